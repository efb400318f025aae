"""Edge entry points: parse and verify each transport, record in the ledger, acknowledge.

Nothing here imports heavy libraries at module level (mlflow, pyspark, sklearn, pandas,
boto3): a Lambda cold start must stay close to FastAPI's own.
"""
