"""A tiny recording HTTP server: the demo's Slack sink (and, extended with fault injection
under tests/, the suite's fakes of Databricks and Slack).

Routes are (method, path) -> handler(request) -> (status, json); a path may hold ``{name}``
segments, whose values land in ``request.params``. Every request is recorded. Runs on a
thread, on 127.0.0.1 only. Hand-written because the standard library's http.server is all it
needs and no well-kept package records requests this simply.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


def serve_locally(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    """``handler`` served on a free port of 127.0.0.1 from a daemon thread: the server (stop it
    with ``shutdown()`` and ``server_close()``) and its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    # shutdown() waits for the loop's next look at its flag: every 0.05 s, not the default 0.5
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


Handler = Callable[[Request], tuple[int, Any]]


@dataclass
class RecordingHTTP:
    routes: dict[tuple[str, str], Handler] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)

    def route(self, method: str, path: str) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self.routes[(method, path)] = fn
            return fn

        return register

    def calls(self, method: str, path: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def start(self) -> str:
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                url = urlparse(self.path)
                length = int(self.headers.get("content-length") or 0)
                req = Request(
                    self.command,
                    url.path,
                    parse_qs(url.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                fake.requests.append(req)
                status, payload, headers = fake._answer(req)
                raw = isinstance(payload, bytes)  # a file's content (a Files API download)
                data = payload if raw else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header(
                    "Content-Type", "application/octet-stream" if raw else "application/json"
                )
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _serve

            def log_message(self, *args: object) -> None:
                return

        self._server, url = serve_locally(_Handler)
        return url

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _templated(self, req: Request) -> Handler | None:
        for (method, template), handler in self.routes.items():
            if method != req.method or "{" not in template:
                continue
            # {name}: one path segment; {name:path}: the rest of the path, slashes and all
            pattern = re.sub(r"\\{(\w+):path\\}", r"(?P<\1>/.*)", re.escape(template))
            pattern = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", pattern)
            match = re.fullmatch(pattern, req.path)
            if match:
                req.params = match.groupdict()
                return handler
        return None

    def _answer(self, req: Request) -> tuple[int, Any, dict[str, str]]:
        handler = self.routes.get((req.method, req.path)) or self._templated(req)
        if handler is None:
            return (
                404,
                {
                    "error_code": "ENDPOINT_NOT_FOUND",
                    "message": f"fake has no {req.method} {req.path}",
                },
                {},
            )
        status, payload = handler(req)
        return status, payload, {}
