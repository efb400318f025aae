"""AWS Lambda: the HTTP edge (API Gateway / function URL) through Mangum."""

from __future__ import annotations

from mangum import Mangum

from mlops_hooks.functions.app import create_app
from mlops_hooks.functions.runtime import Runtime

app = create_app(Runtime(public=True))  # behind a public HTTP API
handler = Mangum(app, lifespan="off")
