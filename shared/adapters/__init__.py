"""Adapters: the only modules that import vendor SDKs (boto3, mlflow, databricks-sdk, ...)."""
