"""The one place the web side calls the output parser and the hint finder (``modeling.parsing``,
``modeling.hints``), and turns their plain dicts into what the rows store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

HINT_FIELDS = ("kind", "target", "quoted_text", "claimed", "measured", "message")


@dataclass(frozen=True)
class Parsed:
    think_text: str
    answer_text: str
    data: dict[str, Any]


def parse(raw_text: str) -> Parsed:
    """Think and answer texts plus the parser's JSON (steps, sections, timestamps, claims).

    The parser's offsets index ``raw_text``; flags index the think/answer texts, which are cut
    with the parser's own spans so the two always agree.
    """
    from modeling.parsing import parse_generation, part_text

    data = parse_generation(raw_text)
    return Parsed(part_text(raw_text, data, "think"), part_text(raw_text, data, "answer"), data)


def hints(parsed: dict[str, Any], facts: dict[str, Any]) -> list[dict[str, Any]]:
    """``GenerationHint`` fields for each claim the analysis facts contradict."""
    if not facts:
        return []
    rows = []
    from modeling.hints import find_hints

    for hint in find_hints(parsed, facts):
        fields = {name: hint.get(name) for name in HINT_FIELDS}
        fields["target"] = fields["target"] or ""
        fields["quoted_text"] = fields["quoted_text"] or ""
        fields["message"] = fields["message"] or f"{fields['kind']} contradicts the analysis"
        start, end = hint.get("start"), hint.get("end")
        if isinstance(start, int) and isinstance(end, int) and end > start >= 0:
            fields["start_char"], fields["end_char"] = start, end
        rows.append(fields)
    return rows
