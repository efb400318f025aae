"""`mlops-hooks demo`: the whole loop on one machine (embedded MLflow, moto, serve, Slack sink)."""
