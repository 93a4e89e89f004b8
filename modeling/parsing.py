"""Parse what Music Flamingo wrote into the parts the review page needs, as character offsets.

``parse_generation(raw_text)`` returns a JSON-serialisable dict (stored in ``Generation.parsed``):

- ``think`` / ``answer``: ``{"start", "end"}`` of the inner text of each block (surrounding
  whitespace trimmed), or ``None``. Text without any tag is all answer, as the instruct model
  writes it.
- ``steps``: the reasoning trace split into numbered steps ("Step 1:", "1.", bullets, "First, …",
  paragraphs, else sentences).
- ``sections``: the answer split into headed sections (markdown ``##``, bold ``**Vocals:**``,
  ``Heading:`` lines; plain paragraphs have heading ``None``), each with its sentences.
- ``timestamps``: every time mention with its value in seconds (see ``modeling.claims``).
- ``claims`` / ``think_claims``: tempo, key, metre, genres, instruments, vocals, languages and timed
  sections stated in the answer / in the reasoning.
- ``problems``: ``{"code", "message", "severity"}`` for malformed output, which is parsed as far as
  possible and never dropped.

Every span is a pair of Python ``str`` indices (code points) into ``raw_text``: for any dict with
``start``, ``end`` and ``text``, ``raw_text[start:end] == text``. Browsers index strings in UTF-16
code units; convert with ``utf16_offsets`` and back with ``codepoint_offsets``. Flags store offsets
relative to ``think_text`` / ``answer_text``: write those with ``part_text`` and subtract the part's
``start``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from modeling import claims as _claims
from modeling.spans import LIST_MARK as _LIST_MARK
from modeling.spans import Span, sentence_spans
from modeling.spans import lines as _lines
from modeling.spans import paragraphs as _paragraphs
from modeling.spans import strip as _strip

PARSER_VERSION = "1.0"

_TAG = re.compile(r"<\s*(?:(/)\s*)?(think|answer)\s*>", re.IGNORECASE)
_TERMINAL = set('.!?…。！？」』"”’)]*`~')
_INFO, _WARNING, _ERROR = "info", "warning", "error"


# --- offsets -------------------------------------------------------------------------------------


def utf16_offsets(raw_text: str, start: int, end: int) -> tuple[int, int]:
    """Turn code-point offsets into UTF-16 code-unit offsets, as JavaScript strings index.

    Characters outside the Basic Multilingual Plane (most emoji, some CJK) take two code units.

    >>> utf16_offsets("🎸 riff at 1:23", 10, 14)
    (11, 15)
    >>> utf16_offsets("F♯ minor", 0, 8)
    (0, 8)
    """
    if not 0 <= start <= end <= len(raw_text):
        raise ValueError(f"span [{start}, {end}) is outside a text of length {len(raw_text)}")
    before = sum(1 for ch in raw_text[:start] if ord(ch) > 0xFFFF)
    inside = sum(1 for ch in raw_text[start:end] if ord(ch) > 0xFFFF)
    return start + before, end + before + inside


def codepoint_offsets(raw_text: str, start16: int, end16: int) -> tuple[int, int]:
    """The inverse of ``utf16_offsets``: a browser selection's offsets back into ``str`` indices.

    An offset that falls between the two halves of a surrogate pair moves to the character's
    start (for ``start16``) or end (for ``end16``), so the span never splits a character.

    >>> codepoint_offsets("🎸 riff at 1:23", 11, 15)
    (10, 14)
    >>> codepoint_offsets("🎸x", 1, 1)
    (0, 1)
    """
    if not 0 <= start16 <= end16:
        raise ValueError(f"span [{start16}, {end16}) is not ordered")
    units = 0
    start = end = None
    for index, ch in enumerate(raw_text):
        width = 2 if ord(ch) > 0xFFFF else 1
        if start is None and start16 < units + width:
            start = index
        if end is None and end16 <= units:
            end = index
        if end is None and end16 < units + width:
            end = index + 1
        units += width
        if start is not None and end is not None:
            break
    if start is None or end is None:
        if end16 > units:
            raise ValueError(f"span end {end16} is beyond a text of {units} UTF-16 units")
        start = len(raw_text) if start is None else start
        end = len(raw_text)
    return start, max(start, end)


def part_text(raw_text: str, parsed: dict[str, Any], part: str) -> str:
    """The text of ``part`` ("think" or "answer") that ``parsed`` located, or "" if there is none.

    ``Generation.think_text`` and ``answer_text`` are written with this, so an offset into them is
    the raw offset minus ``parsed[part]["start"]``.

    >>> raw = "<think> 4/4 pulse. </think><answer>Folk song.</answer>"
    >>> part_text(raw, parse_generation(raw), "think")
    '4/4 pulse.'
    """
    span = parsed.get(part)
    return raw_text[span["start"] : span["end"]] if span else ""


def _span(text: str, start: int, end: int, **extra: Any) -> dict[str, Any]:
    return {"start": start, "end": end, "text": text[start:end], **extra}


# --- blocks: where the think and answer parts are ------------------------------------------------


@dataclass(frozen=True)
class _Tag:
    start: int
    end: int
    name: str
    closing: bool


@dataclass
class Parts:
    """Where the reasoning and the answer lie in the raw text, and what was wrong with the tags."""

    think: Span | None
    answer: Span | None
    well_formed: bool
    problems: list[dict[str, Any]] = field(default_factory=list)


def locate_parts(raw_text: str) -> Parts:
    """Find the ``<think>`` and ``<answer>`` blocks, tolerating every malformation we have seen.

    Well-formed means exactly ``<think>…</think>`` then ``<answer>…</answer>`` with only whitespace
    around them. Otherwise: a missing ``</think>`` ends the reasoning at ``<answer>`` (or the end
    of the text); text after ``</think>`` without ``<answer>`` is the answer; an answer without
    ``</answer>`` runs to the end; a lone ``</think>`` means the reasoning started unmarked (the
    chat template may have opened it); no tags at all means the whole text is the answer.
    """
    tags = [_Tag(m.start(), m.end(), m[2].lower(), bool(m[1])) for m in _TAG.finditer(raw_text)]
    problems: list[dict[str, Any]] = []

    def problem(code: str, message: str, severity: str = _WARNING) -> None:
        problems.append({"code": code, "message": message, "severity": severity})

    if not tags:
        whole = _strip(raw_text, 0, len(raw_text))
        problem(
            "no_tags", "No <think> or <answer> tags: the whole text is taken as the answer.", _INFO
        )
        if whole[0] == whole[1]:
            problem("empty_answer", "The output is empty.", _ERROR)
        return Parts(None, whole, False, problems)

    def first(name: str, closing: bool, after: int = 0) -> _Tag | None:
        return next(
            (t for t in tags if t.name == name and t.closing is closing and t.start >= after), None
        )

    think: Span | None = None
    think_region_end = 0  # where text after the reasoning block begins
    think_open = first("think", False)
    think_close = first("think", True, think_open.end if think_open else 0)
    if think_open is not None:
        if think_close is not None:
            think = _strip(raw_text, think_open.end, think_close.start)
            think_region_end = think_close.end
        else:
            next_answer = first("answer", False, think_open.end)
            stop = next_answer.start if next_answer else len(raw_text)
            think = _strip(raw_text, think_open.end, stop)
            think_region_end = stop
            problem("missing_think_close", "The reasoning has no closing </think> tag.")
    elif think_close is not None:
        before = [t for t in tags if t.end <= think_close.start]
        think = _strip(raw_text, before[-1].end if before else 0, think_close.start)
        think_region_end = think_close.end
        problem(
            "missing_think_open",
            "</think> without <think>: the text before it is taken as the reasoning.",
            _INFO,
        )

    answer: Span | None = None
    answer_open = first("answer", False, think_region_end)
    if answer_open is None and first("answer", False) is not None:
        answer_open = first("answer", False)
        problem("unbalanced_tags", "The <answer> block comes before the reasoning.")
    if answer_open is not None:
        answer_close = first("answer", True, answer_open.end)
        if answer_close is not None:
            answer = _strip(raw_text, answer_open.end, answer_close.start)
        else:
            answer = _strip(raw_text, answer_open.end, len(raw_text))
            problem("missing_answer_close", "The answer has no closing </answer> tag.")
    else:
        stray_close = first("answer", True, think_region_end)
        if stray_close is not None:
            answer = _strip(raw_text, think_region_end, stray_close.start)
            problem(
                "missing_answer_open",
                "</answer> without <answer>: the text before it is taken as the answer.",
            )
        else:
            trailing = _strip(raw_text, think_region_end, len(raw_text))
            if think_region_end < len(raw_text) and trailing[0] < trailing[1]:
                answer = trailing
                problem(
                    "missing_answer_open",
                    "No <answer> tag: the text after the reasoning is taken as the answer.",
                )
            else:
                problem("missing_answer_open", "There is no answer after the reasoning.", _ERROR)

    if answer is not None and answer[0] == answer[1]:
        problem("empty_answer", "The answer is empty.", _ERROR)
    if think is not None and think[0] == think[1]:
        problem("empty_think", "The reasoning block is empty.", _INFO)

    counts = {(n, c): sum(1 for t in tags if t.name == n and t.closing is c) for n, c in _ORDER}
    if any(count > 1 for count in counts.values()):
        problem("unbalanced_tags", "A tag appears more than once.")
    elif not _in_order(tags) and not any(p["code"] == "unbalanced_tags" for p in problems):
        problem("unbalanced_tags", "The tags are nested or out of order.")

    located = [span for span in (think, answer) if span is not None]
    if any(
        not any(s <= start and end <= e for s, e in located)
        for start, end in _outside_text(raw_text, tags)
    ):
        problem("text_outside_tags", "There is text outside the <think>/<answer> blocks.", _INFO)

    well_formed = (
        [(t.name, t.closing) for t in tags] == list(_ORDER)
        and not raw_text[: tags[0].start].strip()
        and not raw_text[tags[-1].end :].strip()
        and not raw_text[tags[1].end : tags[2].start].strip()
    )
    return Parts(think, answer, well_formed, problems)


_ORDER = (("think", False), ("think", True), ("answer", False), ("answer", True))


def _in_order(tags: list[_Tag]) -> bool:
    ranks = [_ORDER.index((t.name, t.closing)) for t in tags]
    return ranks == sorted(ranks)


def _outside_text(raw_text: str, tags: list[_Tag]) -> list[Span]:
    """Non-whitespace stretches outside every tag (between tags included)."""
    stretches = []
    cursor = 0
    for tag in [*tags, _Tag(len(raw_text), len(raw_text), "", False)]:
        start, end = _strip(raw_text, cursor, tag.start)
        if start < end:
            stretches.append((start, end))
        cursor = tag.end
    return stretches


# --- steps of the reasoning trace ----------------------------------------------------------------

_NUMBERED_LINE = re.compile(
    r"^[ \t]*(?:[*_#]{1,3}[ \t]*)?(?:step[ \t]*\d+\b|\d{1,2}[.)](?=\s)|\(\d{1,2}\)(?=\s))",
    re.IGNORECASE | re.MULTILINE,
)
_STEP_WORD = re.compile(r"(?<!\w)(?:\*\*)?step[ \t]*\d+[ \t]*(?:[:.)—–-]|\*\*)", re.IGNORECASE)
_BULLET_LINE = re.compile(r"^[ \t]*[-*•·▪–][ \t]+(?=\S)", re.MULTILINE)
_ORDINAL = re.compile(
    r"(?:first(?:ly)?|second(?:ly)?|third(?:ly)?|fourth(?:ly)?|fifth|next|then|after that|"
    r"finally|lastly|to begin|to start|moving on|now|also|additionally|putting it together|"
    r"overall|in summary)\b",
    re.IGNORECASE,
)
_STRONG_ORDINAL = re.compile(r"(?:first|second|third|next|finally|lastly|to begin)", re.IGNORECASE)


def split_steps(raw_text: str, span: Span | None) -> list[dict[str, Any]]:
    """Split the reasoning trace into numbered steps, by the clearest structure it has.

    In order: numbered markers ("Step 3:", "3.", "(3)") when there are two or more; bullet lines;
    then paragraphs or ordinal sentence openers ("First,", "Next,", "Finally,"), whichever gives
    more steps; else sentences. Text before the first marker is a step of its own.
    """
    if span is None or span[0] == span[1]:
        return []
    start, end = span
    sub = raw_text[start:end]
    numbered = _cuts(_NUMBERED_LINE, sub)
    if len(numbered) < 2:
        numbered = _cuts(_STEP_WORD, sub)
    for kind, cuts in (("numbered", numbered), ("bullet", _cuts(_BULLET_LINE, sub))):
        if len(cuts) >= 2:
            return _steps_from_cuts(raw_text, start, end, [c + start for c in cuts], kind)
    paragraphs = _paragraphs(raw_text, start, end)
    sentences = sentence_spans(raw_text, start, end)
    ordinal_cuts = [s for s, _ in sentences if _ORDINAL.match(raw_text, s)]
    strong = [c for c in ordinal_cuts if _STRONG_ORDINAL.match(raw_text, c)]
    if len(ordinal_cuts) >= 2 and strong and len(ordinal_cuts) + 1 > len(paragraphs):
        return _steps_from_cuts(raw_text, start, end, ordinal_cuts, "ordinal")
    if len(paragraphs) >= 2:
        return [
            _span(raw_text, s, e, index=i, marker="paragraph")
            for i, (s, e) in enumerate(paragraphs, 1)
        ]
    return [
        _span(raw_text, s, e, index=i, marker="sentence") for i, (s, e) in enumerate(sentences, 1)
    ]


def _cuts(pattern: re.Pattern[str], sub: str) -> list[int]:
    cuts = []
    for match in pattern.finditer(sub):
        position = match.start()
        while position < match.end() and sub[position] in " \t":
            position += 1
        cuts.append(position)
    return cuts


def _steps_from_cuts(
    raw_text: str, start: int, end: int, cuts: list[int], kind: str
) -> list[dict[str, Any]]:
    bounds = sorted({start, *cuts})
    steps: list[dict[str, Any]] = []
    for i, piece_start in enumerate(bounds):
        piece_end = bounds[i + 1] if i + 1 < len(bounds) else end
        s, e = _strip(raw_text, piece_start, piece_end)
        if s < e:
            marker = kind if s in cuts else "preamble"
            steps.append(_span(raw_text, s, e, index=len(steps) + 1, marker=marker))
    return steps


# --- sections of the answer ----------------------------------------------------------------------

# No two adjacent parts of these patterns can match the same whitespace, so a line of thousands of
# spaces cannot make them backtrack for minutes; trailing "#"s of a markdown heading are trimmed in
# Python for the same reason.
_MD_HEADING = re.compile(r"[ \t]{0,3}#{1,6}[ \t]+(?P<h>\S[^\n]*)")
_BOLD_LINE = re.compile(r"(?:\*\*|__)(?P<h>[^*_\n]{1,80}?)(?::[ \t]*)?(?:\*\*|__)(?:[ \t]*:)?$")
_BOLD_INLINE = re.compile(
    r"(?:\*\*|__)(?P<h>[^*_\n]{1,60}?)(?::[ \t]*)?(?:\*\*|__)(?:[ \t]*[:—–-])?[ \t]+(?=\S)"
)
_COLON_LINE = re.compile(r"(?P<h>[^\W\d_][^\n:]{0,60}?)[ \t]*:[ \t]*$")
_COLON_INLINE = re.compile(r"(?P<h>[^\W\d_][^\n:.!?]{0,50}?)[ \t]*:[ \t]+(?=\S)")


def _heading(text: str, line: Span, paragraph_start: bool) -> tuple[Span, int] | None:
    """If the line is (or starts with) a heading: the heading's span and where its body starts."""
    s, e = line
    for pattern, needs_paragraph_start, max_words in (
        (_MD_HEADING, False, 12),
        (_BOLD_LINE, False, 10),
        (_BOLD_INLINE, False, 6),
        (_COLON_LINE, False, 8),
        (_COLON_INLINE, True, 5),
    ):
        if needs_paragraph_start and not paragraph_start:
            continue
        match = pattern.match(text, s, e)
        if match is None:
            continue
        hs, he = _strip(text, match.start("h"), match.end("h"))
        if pattern is _MD_HEADING:
            while he > hs and text[he - 1] == "#":
                he -= 1
            hs, he = _strip(text, hs, he)
        numbering = re.match(r"\d{1,2}[.)][ \t]+", text[hs:he])
        if numbering:
            hs += numbering.end()
        heading = text[hs:he].strip("*_ ")
        if not heading or len(heading.split()) > max_words:
            continue
        if pattern in (_COLON_LINE, _COLON_INLINE) and (
            not (heading[0].isupper() or not heading[0].isalpha()) or re.search(r"[.!?]", heading)
        ):
            continue
        body = match.end() if pattern in (_BOLD_INLINE, _COLON_INLINE) else e
        return (hs, he), body
    return None


def split_sections(raw_text: str, span: Span | None) -> list[dict[str, Any]]:
    """Split the answer into sections with their sentences.

    A heading is a markdown ``#`` line, a bold line, a short ``Title:`` line, or a bold or short
    ``Title:`` opening a paragraph ("**Vocals:** A warm alto…"). Text before the first heading is a
    section with heading ``None``; with no headings at all, each paragraph is such a section.
    ``start``/``end`` cover the whole section including its heading line; ``heading_start`` and
    ``heading_end`` cover the heading's words without markup.
    """
    if span is None or span[0] == span[1]:
        return []
    start, end = span
    lines = _lines(raw_text, start, end)
    blocks: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    previous_end = start
    for line in lines:
        paragraph_start = line[0] == start or raw_text[previous_end : line[0]].count("\n") >= 2
        found = (
            None if _LIST_MARK.match(raw_text, *line) else _heading(raw_text, line, paragraph_start)
        )
        if found is not None:
            (hs, he), body = found
            current = {"heading": (hs, he), "start": line[0], "end": line[1], "body": []}
            blocks.append(current)
            if body < line[1]:
                current["body"].append((body, line[1]))
        else:
            if current is None:
                current = {"heading": None, "start": line[0], "end": line[1], "body": []}
                blocks.append(current)
            current["body"].append(line)
            current["end"] = line[1]
        previous_end = line[1]

    if not any(b["heading"] for b in blocks):
        blocks = [
            {"heading": None, "start": s, "end": e, "body": [(s, e)]}
            for s, e in _paragraphs(raw_text, start, end)
        ]

    sections = []
    for block in blocks:
        sentences = [
            _span(raw_text, s, e)
            for body_start, body_end in block["body"]
            for s, e in sentence_spans(raw_text, body_start, body_end)
        ]
        heading = block["heading"]
        sections.append(
            {
                "heading": raw_text[heading[0] : heading[1]] if heading else None,
                "heading_start": heading[0] if heading else None,
                "heading_end": heading[1] if heading else None,
                **_span(raw_text, block["start"], block["end"]),
                "sentences": sentences,
            }
        )
    return sections


# --- runaway repetition --------------------------------------------------------------------------

_TOKEN = re.compile(
    r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]|[^\W\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]+"
)


def find_repetition(raw_text: str, start: int = 0, end: int | None = None) -> dict[str, Any] | None:
    """The longest loop in [start, end): a phrase repeated back to back, or a sentence said 3+ times.

    A phrase of ``p`` words must come back at least ``max(3, 16 / p)`` times in a row, so sung
    refrains quoted in a caption ("na na na na") are not mistaken for a model stuck in a loop.
    """
    end = len(raw_text) if end is None else end
    tokens = [(m.start(), m.end(), m[0].casefold()) for m in _TOKEN.finditer(raw_text, start, end)]
    words = [t[2] for t in tokens]
    best: dict[str, Any] | None = None
    for period in range(1, min(60, len(words) // 2) + 1):
        run = 0
        for i in range(len(words) - period):
            if words[i] == words[i + period]:
                run += 1
            else:
                run = 0
            nxt_same = i + 1 < len(words) - period and words[i + 1] == words[i + 1 + period]
            if run and not nxt_same:
                copies = run // period + 1
                if copies >= max(3, -(-16 // period)) and (best is None or run > best["_run"]):
                    first = i - run + 1
                    best = {
                        "_run": run,
                        "start": tokens[first][0],
                        "end": tokens[i + period][1],
                        "phrase": raw_text[tokens[first][0] : tokens[first + period][0]].strip(),
                        "repeats": copies,
                    }
    seen: dict[str, list[Span]] = {}
    for s, e in sentence_spans(raw_text, start, end):
        key = " ".join(w.casefold() for w in _TOKEN.findall(raw_text[s:e]))
        if len(key.split()) >= 5:
            seen.setdefault(key, []).append((s, e))
    for spans in seen.values():
        run = spans[-1][1] - spans[0][0]
        if len(spans) >= 3 and (best is None or run > best["end"] - best["start"]):
            best = {
                "_run": run,
                "start": spans[0][0],
                "end": spans[-1][1],
                "phrase": raw_text[spans[0][0] : spans[0][1]],
                "repeats": len(spans),
            }
    if best is not None:
        best.pop("_run")
    return best


# --- the whole parse -----------------------------------------------------------------------------


def parse_generation(raw_text: str) -> dict[str, Any]:
    """Parse one Music Flamingo output; see the module docstring for the shape of the result.

    >>> parsed = parse_generation(
    ...     "<think>Step 1: steady kick. Step 2: F♯ minor chords.</think>"
    ...     "<answer>## Harmony\\nIn F♯ minor at 92 BPM; the bridge lands at 2:10.</answer>"
    ... )
    >>> [s["text"] for s in parsed["steps"]]
    ['Step 1: steady kick.', 'Step 2: F♯ minor chords.']
    >>> parsed["sections"][0]["heading"], parsed["claims"]["tempo_bpm"]["value"]
    ('Harmony', 92.0)
    >>> parsed["claims"]["key"]["tonic"], parsed["claims"]["key"]["mode"]
    ('F#', 'minor')
    >>> [(t["text"], t["seconds"], t["target"]) for t in parsed["timestamps"]]
    [('2:10', 130.0, 'answer')]
    >>> parsed["problems"]
    []
    """
    parts = locate_parts(raw_text)
    problems = list(parts.problems)

    repetition = find_repetition(raw_text)
    if repetition is not None:
        problems.append(
            {
                "code": "runaway_repetition",
                "message": f"A phrase repeats {repetition['repeats']} times: the generation looped.",
                "severity": _ERROR,
                **repetition,
            }
        )
    ending = raw_text.rstrip()
    no_tags = any(p["code"] == "no_tags" for p in problems)
    cut_off = bool(ending) and not _CLOSING_TAG_AT_END.search(ending)
    if cut_off and (
        _OPEN_TAG_AT_END.search(ending)
        or (ending[-1] not in _TERMINAL and not (no_tags and _ends_like_a_list(ending)))
    ):
        problems.append(
            {
                "code": "truncated",
                "message": "The text stops mid-sentence without closing its block: the "
                "generation probably hit its token limit.",
                "severity": _ERROR,
            }
        )

    timestamps = _claims.find_timestamps(raw_text, 0, len(raw_text))
    for stamp in timestamps:
        stamp["target"] = _target(parts, stamp["start"], stamp["end"])

    sections = split_sections(raw_text, parts.answer)
    headings = [(s["heading_start"], s["heading_end"]) for s in sections if s["heading"]]
    return {
        "parser_version": PARSER_VERSION,
        "well_formed": parts.well_formed,
        "think": _offsets(parts.think),
        "answer": _offsets(parts.answer),
        "steps": split_steps(raw_text, parts.think),
        "sections": sections,
        "timestamps": timestamps,
        "claims": _claims.extract_claims(raw_text, parts.answer, "answer", headings),
        "think_claims": _claims.extract_claims(raw_text, parts.think, "think"),
        "problems": problems,
    }


def _offsets(span: Span | None) -> dict[str, int] | None:
    return {"start": span[0], "end": span[1]} if span else None


def _target(parts: Parts, start: int, end: int) -> str | None:
    for name, span in (("think", parts.think), ("answer", parts.answer)):
        if span is not None and span[0] <= start and end <= span[1]:
            return name
    return None


_CLOSING_TAG_AT_END = re.compile(r"<\s*/\s*(?:think|answer)\s*>$", re.IGNORECASE)
_OPEN_TAG_AT_END = re.compile(r"<\s*(?:think|answer)\s*>$", re.IGNORECASE)


def _ends_like_a_list(text: str) -> bool:
    last_line = text.rsplit("\n", 1)[-1]
    return bool(_LIST_MARK.match(last_line)) or bool(_MD_HEADING.match(last_line))
