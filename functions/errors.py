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


MAX_DEPTH = 32  # far deeper than any registry payload; bounded so storing it cannot recurse
MAX_FIELD_CHARS = 800  # a Unity Catalog name is at most 3 x 255 characters
MAX_VERSION_DIGITS = 18


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object of bounded depth, or a 400 saying why not."""
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Rejected(400, f"body is not valid JSON: {exc}") from None
    except (ValueError, RecursionError) as exc:  # a 5,000-digit number; nesting past Python's
        raise Rejected(400, f"body is not acceptable JSON: {str(exc).splitlines()[0]}") from None
    if not isinstance(doc, dict):
        raise Rejected(400, "body must be a JSON object")
    # nesting past MAX_DEPTH needs more than MAX_DEPTH brackets: count them (C speed) before
    # walking the document (the hot path's webhooks have a dozen)
    if body.count(b"{") + body.count(b"[") > MAX_DEPTH and depth(doc) > MAX_DEPTH:
        raise Rejected(400, f"body nests deeper than {MAX_DEPTH} levels")
    return doc


def depth(doc: Any) -> int:
    """How deeply containers nest (iteratively: no recursion on hostile input)."""
    deepest, stack = 0, [(doc, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                return level
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, level + 1) for child in children)
    return deepest


def require_str(doc: dict[str, Any], name: str, where: str) -> str:
    """A field that must be text: not empty, bounded, valid Unicode (no lone surrogates)."""
    value = doc.get(name)
    if value is None or (isinstance(value, str) and not value):
        raise Rejected(400, f"{where}: missing {name}")
    if not isinstance(value, str):  # registries send names as text
        raise Rejected(400, f"{where}: {name} must be a string")
    text = value
    if len(text) > MAX_FIELD_CHARS:
        raise Rejected(400, f"{where}: {name} is longer than {MAX_FIELD_CHARS} characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise Rejected(400, f"{where}: {name} is not valid text (a lone surrogate)") from None
    return text


def require_version(doc: dict[str, Any], name: str, where: str) -> str:
    """A model version: a positive integer (as MLflow and Databricks number them), as text
    without leading zeros (so "7" and "07" are not two keys for one version)."""
    value = doc.get(name)
    if value is None or value == "":
        raise Rejected(400, f"{where}: missing {name}")
    if isinstance(value, float) and value.is_integer():  # JSON's 27.0 is the integer 27
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Rejected(400, f"{where}: {name} must be a positive integer")
    text = str(value)
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_VERSION_DIGITS or text[0] == "0":
        raise Rejected(400, f"{where}: {name} must be a positive integer, not {text[:20]!r}")
    return text
