"""The offset invariant every parser result must keep, checked over the whole result."""

from __future__ import annotations

from typing import Any


def iter_spans(value: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every dict in ``value`` that has ``start`` and ``end``, with where it was found."""
    found = []
    if isinstance(value, dict):
        if isinstance(value.get("start"), int) and isinstance(value.get("end"), int):
            found.append((path, value))
        for key, item in value.items():
            found += iter_spans(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += iter_spans(item, f"{path}[{index}]")
    return found


def assert_offsets_hold(raw: str, parsed: dict[str, Any]) -> None:
    """raw[start:end] == text for every span that quotes its text; every span lies in raw;
    headings and parts are slices too; every claim sits inside the part it names."""
    for path, span in iter_spans(parsed):
        assert 0 <= span["start"] <= span["end"] <= len(raw), (path, span)
        if "text" in span:
            assert raw[span["start"] : span["end"]] == span["text"], (path, span)
    for section in parsed["sections"]:
        if section["heading"] is not None:
            start, end = section["heading_start"], section["heading_end"]
            assert raw[start:end] == section["heading"]
            assert section["start"] <= start <= end <= section["end"]
        for sentence in section["sentences"]:
            assert section["start"] <= sentence["start"] <= sentence["end"] <= section["end"]
    for part, claims_key in (("answer", "claims"), ("think", "think_claims")):
        block = parsed[part]
        for path, span in iter_spans(parsed[claims_key]):
            assert block is not None, path
            assert block["start"] <= span["start"] <= span["end"] <= block["end"], (path, span)
    for step in parsed["steps"]:
        think = parsed["think"]
        assert think["start"] <= step["start"] < step["end"] <= think["end"]
        assert step["text"] == step["text"].strip()
