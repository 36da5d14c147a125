"""Transform: the dbt feature marts (staging, intermediate, marts) built on the raw tables."""
