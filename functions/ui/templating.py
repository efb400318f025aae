"""One Jinja2 environment for the /ui pages and the demo's static report: autoescaping on
(every value from a registry, a payload or a report is data), our SVG marks as globals."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).parent / "templates"


@cache
def environment() -> Any:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from mlops_hooks.functions.ui.render import mark, result_mark

    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(mark=mark, result_mark=result_mark)
    env.filters["pretty"] = lambda value: json.dumps(value, indent=2, sort_keys=True, default=str)
    return env
