"""Spark job entry points (train, batch_inference, drift_check) arrive with the jobs issue."""
