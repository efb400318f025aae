"""One Lambda function in its own process, as the rehearsal runs it: the handler the template
names, the environment the template declares, one invocation at a time (as a Lambda instance).

    python -m tests.support.lambda_host mlops_hooks.functions.lambda_http.handler PORT

``POST /invoke`` with the event as JSON answers ``{"result": ...}`` or, when the handler raised
(a Lambda function error), ``{"error": type, "message": ...}``. Prints ``ready`` when it listens.
Like the Runtime Interface Emulator the Lambda base images ship, but without a container.
"""

from __future__ import annotations

import importlib
import json
import sys
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any


class Context:
    """What a handler may read off Lambda's context object."""

    def __init__(self, name: str) -> None:
        self.function_name = name
        self.aws_request_id = str(uuid.uuid4())
        self.memory_limit_in_mb = 1024
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def load(spec: str) -> Any:
    module, _, attribute = spec.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


def main() -> None:
    spec, port = sys.argv[1], int(sys.argv[2])
    handler = load(spec)  # an import error here fails the host at start, as a cold start would
    name = spec.split(".")[-2]

    class Invocations(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            event = json.loads(self.rfile.read(int(self.headers["content-length"])))
            try:
                answer = {"result": handler(event, Context(name))}
            except Exception as exc:  # a function error: Lambda reports it, so do we
                answer = {"error": type(exc).__name__, "message": str(exc)}
                traceback.print_exc()
            body = json.dumps(answer, default=str).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = HTTPServer(("127.0.0.1", port), Invocations)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
