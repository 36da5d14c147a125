"""Monitoring: Evidently reports, retraining triggers and alerts."""
