"""Reports written back to the registry.

OSS MLflow has no comments API, so a report lives in a *managed section* of the model
version's description, between fixed HTML-comment markers (invisible in the MLflow UI's
markdown). The author's own text is kept; a re-run replaces the section instead of adding one.
"""

from __future__ import annotations

import re


def _markers(section: str) -> tuple[str, str]:
    if not re.fullmatch(r"[a-z0-9_-]+", section):
        raise ValueError(f"section name {section!r}: use lowercase letters, digits, - and _")
    return (f"<!-- mlops-hooks:{section}:begin -->", f"<!-- mlops-hooks:{section}:end -->")


def replace_section(description: str | None, section: str, markdown: str) -> str:
    """``description`` with ``section`` set to ``markdown`` (appended the first time)."""
    begin, end = _markers(section)
    block = f"{begin}\n{markdown.strip()}\n{end}"
    text = description or ""
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        return pattern.sub(lambda _: block, text, count=1)
    return f"{text.rstrip()}\n\n{block}" if text.strip() else block


def read_section(description: str | None, section: str) -> str | None:
    begin, end = _markers(section)
    match = re.search(
        re.escape(begin) + r"\n?(.*?)\n?" + re.escape(end), description or "", re.DOTALL
    )
    return match.group(1) if match else None
