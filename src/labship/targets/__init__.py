"""Targets: files other systems run (compose, cron, Airflow, Kubernetes) from the same inputs."""
