from __future__ import annotations

import pytest

from mlops_hooks.shared.adapters.markdown import read_section, replace_section


def test_first_write_appends_after_the_authors_text() -> None:
    text = replace_section(
        "Trained on the Q3 data. *Do not deploy on Fridays.*", "validation", "## passed"
    )
    assert text.startswith("Trained on the Q3 data. *Do not deploy on Fridays.*\n\n")
    assert read_section(text, "validation") == "## passed"


def test_rewrite_replaces_only_its_own_section() -> None:
    text = replace_section("author", "validation", "v1 report")
    text = replace_section(text, "comparison", "comparison report")
    again = replace_section(text, "validation", "v2 report")
    assert again.count("mlops-hooks:validation:begin") == 1
    assert read_section(again, "validation") == "v2 report"
    assert read_section(again, "comparison") == "comparison report"
    assert again.startswith("author\n\n")
    assert replace_section(again, "validation", "v2 report") == again  # idempotent


def test_empty_description_and_bad_section_names() -> None:
    assert replace_section(None, "validation", "x") == (
        "<!-- mlops-hooks:validation:begin -->\nx\n<!-- mlops-hooks:validation:end -->"
    )
    assert read_section("no markers", "validation") is None
    with pytest.raises(ValueError):
        replace_section("", "Bad Name", "x")
