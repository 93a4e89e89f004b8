"""Plain-text spans: trimming, lines, paragraphs and sentences as offsets into the original text."""

from __future__ import annotations

import re

Span = tuple[int, int]


def strip(text: str, start: int, end: int) -> Span:
    """[start, end) with surrounding whitespace moved out, without copying the text."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


_ABBREVIATIONS = frozenset(
    {
        "e.g",
        "i.e",
        "eg",
        "ie",
        "etc",
        "approx",
        "ca",
        "c",
        "vs",
        "mr",
        "mrs",
        "ms",
        "dr",
        "st",
        "no",
        "op",
        "feat",
        "ft",
        "vol",
        "cf",
        "al",
        "jr",
        "sr",
        "min",
        "sec",
        "bpm",
        "esp",
        "incl",
        "fig",
        "pt",
        "nos",
        "bros",
        "resp",
        "var",
    }
)
_SENTENCE_END = re.compile(r"[.!?…]+[\"”’'»)\]]*(?=\s)|[。！？]+[」』”’)）]*")
LIST_MARK = re.compile(r"[ \t]*(?:[-*•·▪–]|\d{1,2}[.)]|\(\d{1,2}\))[ \t]+")


def lines(text: str, start: int, end: int) -> list[Span]:
    """Non-blank lines in [start, end), trimmed."""
    out = []
    cursor = start
    while cursor < end:
        newline = text.find("\n", cursor, end)
        stop = end if newline == -1 else newline
        line = strip(text, cursor, stop)
        if line[0] < line[1]:
            out.append(line)
        cursor = stop + 1
    return out


def sentence_spans(text: str, start: int, end: int) -> list[Span]:
    """Split [start, end) into sentences: each line on its own, then at sentence punctuation.

    A list marker ("- ", "1. ") at the start of a line is left out of the sentence. Abbreviations
    ("e.g.", "approx.") and a lowercase next word do not end a sentence.
    """
    spans: list[Span] = []
    for line_start, line_end in lines(text, start, end):
        marker = LIST_MARK.match(text, line_start, line_end)
        cursor = marker.end() if marker else line_start
        sentence_start = cursor
        for match in _SENTENCE_END.finditer(text, cursor, line_end):
            stop = match.end()
            nxt = strip(text, stop, line_end)[0]
            if nxt >= line_end:
                continue
            if match[0][0] in ".!?…" and not _ends_sentence(
                text, sentence_start, match.start(), nxt
            ):
                continue
            piece = strip(text, sentence_start, stop)
            if piece[0] < piece[1]:
                spans.append(piece)
            sentence_start = stop
        piece = strip(text, sentence_start, line_end)
        if piece[0] < piece[1]:
            spans.append(piece)
    return spans


def _ends_sentence(text: str, sentence_start: int, dot: int, nxt: int) -> bool:
    following = text[nxt]
    if following.islower():
        return False
    word_start = dot
    while word_start > sentence_start and (
        text[word_start - 1].isalnum() or text[word_start - 1] == "."
    ):
        word_start -= 1
    word = text[word_start:dot].lower()
    is_abbreviation = word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())
    return not (text[dot] == "." and is_abbreviation)


def paragraphs(text: str, start: int, end: int) -> list[Span]:
    spans = []
    cursor = start
    for match in re.finditer(r"\n[ \t]*\n\s*", text[start:end]):
        piece = strip(text, cursor, start + match.start())
        if piece[0] < piece[1]:
            spans.append(piece)
        cursor = start + match.end()
    piece = strip(text, cursor, end)
    if piece[0] < piece[1]:
        spans.append(piece)
    return spans
