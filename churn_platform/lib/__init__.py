"""Reusable pieces that declare no Dagster definitions."""
