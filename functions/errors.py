"""Rejections at the edge: an HTTP status and one readable line, never a 500."""

from __future__ import annotations

import json
from typing import Any

from mlops_hooks.shared.domain.errors import MlopsHooksError


class Rejected(MlopsHooksError):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or a 400 saying why not."""
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Rejected(400, f"body is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise Rejected(400, "body must be a JSON object")
    return doc


def require_str(doc: dict[str, Any], name: str, where: str) -> str:
    value = doc.get(name)
    if value is None or (isinstance(value, str) and not value):
        raise Rejected(400, f"{where}: missing {name}")
    if not isinstance(value, str | int):
        raise Rejected(400, f"{where}: {name} must be a string")
    return str(value)
