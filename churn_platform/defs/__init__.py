"""Dagster definitions, one folder a domain; loaded by ``load_from_defs_folder``."""
