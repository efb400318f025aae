"""AWS Lambda: the HTTP edge (API Gateway / function URL) through Mangum."""

from __future__ import annotations

from mangum import Mangum

from mlops_hooks.functions.app import create_app

app = create_app()
handler = Mangum(app, lifespan="off")
