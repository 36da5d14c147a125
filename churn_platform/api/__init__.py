"""The real-time scoring API (``churn-platform serve``): risk of a known customer, and scoring fresh features."""
