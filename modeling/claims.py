"""What a caption or reasoning trace claims about the song, each claim tied to its span.

Used by ``modeling.parsing``; every function takes the raw text and a ``[start, end)`` region of it
and returns dicts whose ``start``/``end`` index the raw text and whose ``text`` is that slice.
Matching never lowercases the text itself (``"İ".lower()`` is two characters long), so offsets
are always those of the original string.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from modeling.spans import Span
from modeling.vocabulary import (
    AMBIGUOUS_GENRES,
    GENRE_CUES,
    GENRE_NOUNS,
    GENRES,
    INSTRUMENT_FALSE_FOLLOWERS,
    INSTRUMENT_FALSE_PRECEDERS,
    INSTRUMENTS,
    LANGUAGE_CUES,
    LANGUAGES,
    SECTION_LABELS,
    TALAS,
)

# --- timestamps ----------------------------------------------------------------------------------

_WORD_NUMBERS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "forty-five": 45,
    "fifty": 50,
    "sixty": 60,
    "ninety": 90,
}
_NUM = r"(?:\d{1,4}(?:\.\d+)?|" + "|".join(sorted(_WORD_NUMBERS, key=len, reverse=True)) + r")"
_CUE = (
    r"(?:at|around|after|by|until|till|from|near|past|approximately|roughly|about|within|before|"
    r"circa|~|≈)"
)


def _clock(tag: str) -> str:
    return rf"(?P<{tag}>(?:(?P<{tag}h>\d{{1,2}}):)?(?P<{tag}m>\d{{1,3}}):(?P<{tag}s>[0-5]\d(?:\.\d+)?))"


_RANGE = re.compile(
    rf"(?<![\w:.])(?:(?P<between>between|from)\s+)?{_clock('a')}\s*"
    rf"(?P<sep>[-–—~]|to|until|till|through|and)\s*{_clock('b')}(?![\d:])",
    re.IGNORECASE,
)
_CLOCK = re.compile(rf"(?<![\w:.]){_clock('a')}(?![\d:])(?!\s*(?:[ap]\.?m\b))", re.IGNORECASE)
_HMS = re.compile(
    rf"(?:(?P<cue>{_CUE})\s+(?:the\s+)?)?"
    r"(?<![\w.])(?P<span>(?:(?P<h>\d{1,2})\s*(?:h|hr|hours?)\s*)?(?P<m>\d{1,3})\s*"
    r"(?:m|min|mins|minutes?)\.?,?\s*(?:and\s+)?(?P<s>\d{1,2}(?:\.\d+)?)"
    r"(?:\s*(?P<sunit>s|sec|secs|seconds?)\b)?)(?![\w:])",
    re.IGNORECASE,
)
_MINUTE_MARK = re.compile(
    rf"(?<![\w.])(?P<span>(?P<m>{_NUM})[\s-]*(?:minutes?|mins?)(?:[\s-]*mark|\s+in(?:to)?\b))",
    re.IGNORECASE,
)
_MINUTE_CUE = re.compile(
    rf"(?<![\w.])(?P<cue>{_CUE})\s+(?:the\s+)?(?:first\s+)?(?P<span>(?P<m>{_NUM})[\s-]*(?:minutes?|mins?)\b)",
    re.IGNORECASE,
)
_SECOND_MARK = re.compile(
    rf"(?<![\w.])(?P<span>(?P<s>{_NUM})[\s-]*(?:seconds?|secs?|s)(?:[\s-]*mark|\s+in(?:to)?\b))",
    re.IGNORECASE,
)
_SECOND_CUE = re.compile(
    rf"(?<![\w.])(?P<cue>{_CUE})\s+(?:the\s+)?(?:first\s+|opening\s+|last\s+)?"
    rf"(?P<span>(?P<s>{_NUM})[\s-]*(?:seconds?|secs?|s)\b)",
    re.IGNORECASE,
)


def _number(token: str | None) -> float:
    if not token:
        return 0.0
    token = token.lower()
    return float(_WORD_NUMBERS[token]) if token in _WORD_NUMBERS else float(token)


def _clock_seconds(match: re.Match[str], tag: str) -> float:
    return (
        _number(match[f"{tag}h"]) * 3600
        + _number(match[f"{tag}m"]) * 60
        + _number(match[f"{tag}s"])
    )


def find_timestamps(text: str, start: int, end: int) -> list[dict[str, Any]]:
    """Every mention of a point in the audio in [start, end), with its value in seconds.

    Handles ``1:23``, ``01:02:03``, ranges (``0:45–1:30``, ``from 0:45 to 1:30``, ``between 1:10
    and 1:40``: one entry with ``seconds_end``), ``2m10s``, ``at 2 min 10``, ``2 minutes and 10
    seconds``, ``around the 3-minute mark``, ``two minutes in``, ``90 seconds in`` and ``at 45
    seconds``. ``precision`` is how exact the mention is (30 s for a whole-minute mention), which
    the hints use as tolerance. A bare duration ("a 20-second intro") is not a point and is skipped.

    >>> [(t["text"], t["seconds"], t["seconds_end"]) for t in find_timestamps(
    ...     "Chorus 0:45–1:30; bridge at 2 min 10, outro around the 3-minute mark.", 0, 70)]
    [('0:45–1:30', 45.0, 90.0), ('2 min 10', 130.0, None), ('3-minute mark', 180.0, None)]
    """
    found: list[dict[str, Any]] = []

    def add(span: Span, seconds: float, seconds_end: float | None, precision: float) -> None:
        if any(span[0] < f["end"] and f["start"] < span[1] for f in found):
            return
        found.append(
            {
                "start": span[0],
                "end": span[1],
                "text": text[span[0] : span[1]],
                "seconds": round(seconds, 3),
                "seconds_end": None if seconds_end is None else round(seconds_end, 3),
                "precision": precision,
            }
        )

    for match in _RANGE.finditer(text, start, end):
        if match["sep"].lower() == "and" and not match["between"]:
            continue
        a, b = _clock_seconds(match, "a"), _clock_seconds(match, "b")
        if b >= a:
            add((match.start("a"), match.end("b")), a, b, 1.0)
    for match in _CLOCK.finditer(text, start, end):
        add(match.span(), _clock_seconds(match, "a"), None, 1.0)
    for match in _HMS.finditer(text, start, end):
        if not match["sunit"] and not match["cue"]:
            continue
        seconds = _number(match["h"]) * 3600 + _number(match["m"]) * 60 + _number(match["s"])
        add(match.span("span"), seconds, None, 1.0)
    for pattern in (_MINUTE_MARK, _MINUTE_CUE):
        for match in pattern.finditer(text, start, end):
            minutes = _number(match["m"])
            add(match.span("span"), minutes * 60, None, 1.0 if minutes % 1 else 30.0)
    for pattern in (_SECOND_MARK, _SECOND_CUE):
        for match in pattern.finditer(text, start, end):
            add(match.span("span"), _number(match["s"]), None, 1.0)
    return sorted(found, key=lambda f: f["start"])


# --- tempo, key, metre ---------------------------------------------------------------------------

_BPM = re.compile(
    r"(?<![\w.])(?P<a>\d{2,3}(?:\.\d{1,2})?)(?:\s*(?:[-–—~/]|to|or|and)\s*(?P<b>\d{2,3}(?:\.\d{1,2})?))?"
    r"\s*(?:bpm\b|b\.p\.m\.?|beats\s+per\s+minute\b|beats/min\b|beats\s+a\s+minute\b)",
    re.IGNORECASE,
)
_TEMPO_WORD = re.compile(
    # Each connector consumes a word or sign, then its spaces: no two ways to match the same
    # whitespace, so a "tempo" followed by a long run of spaces cannot backtrack for minutes.
    r"(?:\btempo|♩|quarter[\s-]note)\s*(?:(?:(?:of|is|at|around|about|near|sits|hovers|settles|"
    r"roughly|approximately|circa)\b|approx\.?|ca\.|[=≈~:])\s*){0,4}"
    r"(?P<a>\d{2,3}(?:\.\d{1,2})?)(?!\s*(?:%|hz|khz|seconds?|secs?|minutes?|bars?|[:/\d]))",
    re.IGNORECASE,
)


def find_tempos(text: str, start: int, end: int) -> list[dict[str, Any]]:
    """Tempo mentions: ``92 BPM``, ``90–95 bpm`` (value 92.5, low 90, high 95), ``tempo of 92``.

    >>> [(t["text"], t["value"]) for t in find_tempos("A tempo around 92, i.e. 90-95 BPM.", 0, 34)]
    [('92', 92.0), ('90-95 BPM', 92.5)]
    """
    out: list[dict[str, Any]] = []
    for pattern in (_BPM, _TEMPO_WORD):
        for match in pattern.finditer(text, start, end):
            low = float(match["a"])
            high = float(match["b"]) if "b" in match.groupdict() and match["b"] else low
            if high < low or not 20 <= low <= 400 or not 20 <= high <= 400:
                continue
            span = (match.start("a"), match.end())
            if any(span[0] < o["end"] and o["start"] < span[1] for o in out):
                continue
            out.append(
                {
                    **_span(text, *span),
                    "value": round((low + high) / 2, 2),
                    "low": low,
                    "high": high,
                }
            )
    return sorted(out, key=lambda o: o["start"])


_ACCIDENTAL = r"(?P<acc>[♯#♭]|b(?![a-zA-Z])|(?i:[\s-]?(?:sharp|flat))(?![a-zA-Z]))?"
_MODE_WORDS = r"major|minor|dorian|phrygian|lydian|mixolydian|aeolian|locrian|ionian"
_KEY = re.compile(
    rf"(?<![\w♯♭#/]){'(?P<letter>[A-G])'}{_ACCIDENTAL}[ \t\u00a0-]*(?P<mode>(?i:{_MODE_WORDS}))(?![\w])"
)
_KEY_CONTEXT = re.compile(
    r"(?i:\bkey(?:\s+(?:of|is|center|centre)|\s*:)|\btonal(?:ity|\s+cent(?:er|re))(?:\s+(?:of|is|on))?"
    r"(?:\s*:)?|\bcent(?:ered|red)\s+on|\btonic\s+(?:of|is))\s*"
    r"(?P<letter>[A-G])"
    + _ACCIDENTAL
    + r"(?:[ \t\u00a0-]*(?P<mode>(?i:"
    + _MODE_WORDS
    + r"|maj|min|m)))?(?![\w♯♭#])"
)
_KEY_SHORTHAND = re.compile(  # "in F#m", "in Ebmaj": chord-symbol spelling after "in"
    r"(?<!\w)(?i:in)\s+(?P<letter>[A-G])(?P<acc>[♯#♭b])?(?P<mode>m|min|maj)(?![\w♯♭#])"
)
_NOT_A_KEY_AFTER = re.compile(
    r"\s*(?i:chords?|triads?|7(?:th)?s?\b|sevenths?|ninths?|add9|sus\d?|arpeggios?|barre|shapes?|"
    r"power|pentatonic\s+(?:lick|riff|run)s?|seventh|9th|inversion|voicing)"
)
_MODULATION_BEFORE = re.compile(
    r"(?i:modulat|shift|moves?\s+to|moving\s+to|pivot|borrow|tonici[sz]|detour|brief(?:ly)?|"
    r"relative|parallel|turns?\s+to|lifts?\s+to|drops?\s+to|bridge|key\s+change|up\s+a)"
)
_SENTENCE_OPENING_WORD_OK = frozenset(
    {
        "key",
        "tonality",
        "scale",
        "mode",
        "tonic",
        "throughout",
        "and",
        "or",
        "with",
        "over",
        "for",
        "in",
        "at",
        "to",
        "but",
        "which",
        "while",
        "as",
        "that",
        "is",
        "was",
        "modulation",
        "progression",
        "harmony",
        "center",
        "centre",
        "feel",
        "tonal",
        "home",
        "sound",
        "colour",
        "color",
        "palette",
        "setting",
        "framework",
        "signature",
    }
)
_PITCH = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def normalise_tonic(letter: str, accidental: str | None) -> str:
    """``("F", "♯")`` → ``"F#"``; ``("B", " flat")`` → ``"Bb"``; ASCII with ``#``/``b``."""
    acc = (accidental or "").strip(" -\t\u00a0").lower()
    if acc in {"♯", "#", "sharp"}:
        return letter + "#"
    if acc in {"♭", "b", "flat"}:
        return letter + "b"
    return letter


def pitch_class(tonic: str) -> int:
    """Pitch class 0–11 of a tonic such as ``"F#"``, ``"Gb"``, ``"F♯"``, ``"Cb"``, ``"E#"``."""
    tonic = tonic.strip()
    base = _PITCH[tonic[0].upper()]
    for ch in tonic[1:]:
        base += {"#": 1, "♯": 1, "b": -1, "♭": -1}.get(ch, 0)
    return base % 12


def _mode(word: str | None) -> str | None:
    if not word:
        return None
    word = word.lower()
    return {"maj": "major", "min": "minor", "m": "minor"}.get(word, word)


def find_keys(text: str, start: int, end: int) -> list[dict[str, Any]]:
    """Key mentions (``F♯ minor``, ``B♭ major``, ``A-flat major``, ``key of D``, ``Key: Em``).

    ``context`` is ``"key"`` when the text says it is the key, ``"modulation"`` when the mention
    follows words such as "modulates", "bridge" or "relative" (a passing key, not the home key),
    else ``None``. Chords ("an E minor chord") are not keys.

    >>> [(k["tonic"], k["mode"], k["context"]) for k in find_keys(
    ...     "In the key of F♯ minor; the bridge moves to A major over a D minor chord.", 0, 73)]
    [('F#', 'minor', 'key'), ('A', 'major', 'modulation')]
    """
    out: list[dict[str, Any]] = []
    for pattern in (_KEY_CONTEXT, _KEY, _KEY_SHORTHAND):
        for match in pattern.finditer(text, start, end):
            span = (match.start("letter"), match.end())
            if any(span[0] < o["end"] and o["start"] < span[1] for o in out):
                continue
            if _NOT_A_KEY_AFTER.match(text, match.end(), end):
                continue
            mode = _mode(match["mode"])
            if pattern is not _KEY_CONTEXT and _looks_like_an_article(text, start, match, end):
                continue
            sentence_start = max(start, *(text.rfind(ch, start, span[0]) + 1 for ch in ".!?\n;"))
            before = text[sentence_start : span[0]]
            context = None
            if pattern is _KEY_CONTEXT or re.search(
                r"(?i:\bkey\b|tonal|tonic|cent(?:er|re)d?\s+(?:on|in)|home)[^,;]{0,12}$", before
            ):
                context = "key"
            if _MODULATION_BEFORE.search(before[-40:]):
                context = "modulation"
            out.append(
                {
                    **_span(text, *span),
                    "tonic": normalise_tonic(match["letter"], match["acc"]),
                    "mode": mode,
                    "context": context,
                }
            )
    return sorted(out, key=lambda o: o["start"])


def _looks_like_an_article(text: str, region_start: int, match: re.Match[str], end: int) -> bool:
    """ "A major influence…" at a sentence start is the article, not the key of A major."""
    if match["letter"] != "A" or match["acc"]:
        return False
    before = text[region_start : match.start()].rstrip(' \t*_#"“')
    if before and before[-1] not in ".!?\n:":
        return False
    following = re.match(r"\s*([^\W\d_]+)", text[match.end() : end])
    return bool(
        following and following[1].islower() and following[1] not in _SENTENCE_OPENING_WORD_OK
    )


_METER = re.compile(
    r"(?<![\w:/.])(?P<n>1[0-5]|[2-9])\s*/\s*(?P<d>2|4|8|16)(?![\w/:]|\.\d)"
    r"(?!\s*(?i:notes?|note|beats?\s+per|triplets?|th\b))"
)
_METER_WORDS = {
    "common time": "4/4",
    "cut time": "2/2",
    "alla breve": "2/2",
    "waltz time": "3/4",
    "compound duple": "6/8",
}
_METER_NAMED = re.compile(
    r"(?<!\w)(?P<name>(?i:"
    + "|".join(sorted(list(_METER_WORDS) + list(TALAS), key=len, reverse=True)).replace(
        " ", r"[\s-]+"
    )
    + r"))(?!\w)"
)


def find_meters(text: str, start: int, end: int) -> list[dict[str, Any]]:
    """Metre mentions: ``4/4``, ``6/8``, ``7/8``, ``common time``, and Indian talas (``teentaal``).

    >>> [(m["value"], m["numerator"]) for m in find_meters("A 6/8 lilt over teentaal.", 0, 25)]
    [('6/8', 6), ('teentaal', 16)]
    """
    out: list[dict[str, Any]] = []
    for match in _METER.finditer(text, start, end):
        n, d = int(match["n"]), int(match["d"])
        out.append(
            {**_span(text, *match.span()), "value": f"{n}/{d}", "numerator": n, "denominator": d}
        )
    for match in _METER_NAMED.finditer(text, start, end):
        name = re.sub(r"[\s-]+", " ", match["name"].lower())
        if name in _METER_WORDS:
            value = _METER_WORDS[name]
            n, d = (int(x) for x in value.split("/"))
            out.append(
                {**_span(text, *match.span()), "value": value, "numerator": n, "denominator": d}
            )
        else:
            out.append(
                {
                    **_span(text, *match.span()),
                    "value": name,
                    "numerator": TALAS[name],
                    "denominator": None,
                }
            )
    return sorted(out, key=lambda o: o["start"])


# --- vocabulary matches --------------------------------------------------------------------------


def _norm(term: str) -> str:
    return re.sub(r"[\s\-]+", " ", term.casefold()).strip()


class _Vocabulary:
    """Whole-word, case-insensitive matcher for one vocabulary, longest spelling first."""

    def __init__(self, entries: dict[str, tuple[str, ...]], *, plurals: bool = False) -> None:
        self.canonical: dict[str, str] = {}
        for name, aliases in entries.items():
            for alias in (name, *aliases):
                self.canonical.setdefault(_norm(alias), name)
        alternatives = sorted(self.canonical, key=len, reverse=True)
        body = "|".join(re.escape(a).replace(r"\ ", r"[\s\-]+") for a in alternatives)
        plural = r"(?:e?s)?" if plurals else ""
        self.pattern = re.compile(rf"(?<!\w)(?:{body}){plural}(?!\w)", re.IGNORECASE)

    def find(self, text: str, start: int, end: int) -> list[tuple[int, int, str]]:
        hits = []
        for match in self.pattern.finditer(text, start, end):
            if match.end() < len(text) and unicodedata.category(text[match.end()]).startswith("M"):
                continue  # the word goes on with a combining mark: "cafe" in "café" written as e + ́
            key = _norm(match[0])
            name = (
                self.canonical.get(key)
                or self.canonical.get(key[:-1])
                or self.canonical.get(key[:-2])
            )
            if name is not None:
                hits.append((match.start(), match.end(), name))
        return hits


_INSTRUMENTS = _Vocabulary(INSTRUMENTS, plurals=True)  # "tablas"; but "pops" is no genre
_GENRES = _Vocabulary(GENRES)
_LANGUAGES = _Vocabulary(LANGUAGES)

_NEGATION = re.compile(
    r"(?i:(?<!\w)(?:no|not|without|lacks?|lacking|absent|absence\s+of|free\s+of|devoid\s+of|never|"
    r"nor|neither|zero|sans|minus)(?!\w)|n[’']t(?!\w))"
)
# "should not be confused with X", "rather than the softer X": X is named only to be set aside.
_CONTRAST = re.compile(
    r"(?i:(?<!\w)(?:rather\s+than|instead\s+of|as\s+opposed\s+to|unlike|(?:confused|mistaken)"
    r"\s+(?:with|for))(?:\s+[^\W\d_][\w'’-]*){0,3}\s*)$"
)
_CLAUSE_BREAK = re.compile(
    r"[.;:!?\n()—–]|(?i:(?<!\w)(?:but|while|although|though|yet|whereas|instead|however|which|"
    r"where|with|so|only|except|apart|besides|just)(?!\w))"
)


def is_negated(text: str, region_start: int, match_start: int) -> bool:
    """Whether a simple negation governs the word at ``match_start``.

    "no drums", "without vocals", "there are no drums or bass", "doesn't feature any guitar",
    "rather than the softer jazz", "not to be confused with jazz" are negated; "not only drums",
    "no longer…" and a negation in an earlier clause are not.
    """
    window_start = max(region_start, match_start - 80)
    window = text[window_start:match_start]
    breaks = list(_CLAUSE_BREAK.finditer(window))
    if breaks:
        window_start += breaks[-1].end()
        window = text[window_start:match_start]
    if _CONTRAST.search(text[max(region_start, match_start - 60) : match_start]):
        return True
    cues = list(_NEGATION.finditer(window))
    if not cues:
        return False
    between = window[cues[-1].end() :]
    words = re.findall(r"[^\W\d_][\w'’-]*", between)
    if words and words[0].lower() in {"only", "just", "longer", "merely", "simply"}:
        return False
    return len(words) <= 3


def _next_word(text: str, position: int, end: int) -> str:
    match = re.match(r"[\s\-]*([\w'’&]+)", text[position:end])
    return match[1].lower() if match else ""


def _previous_words(text: str, region_start: int, position: int, count: int) -> list[str]:
    return [
        w.lower()
        for w in re.findall(r"[\w'’-]+", text[max(region_start, position - 60) : position])
    ][-count:]


def _claim_list(text: str, hits: list[tuple[int, int, str]]) -> list[dict[str, Any]]:
    """One entry per distinct value, at its first mention, with every mention's offsets.

    Two spellings of one value side by side ("Rhodes electric piano") are one mention.
    """
    merged: list[tuple[int, int, str]] = []
    for s, e, name in sorted(hits):
        if merged and merged[-1][2] == name and not text[merged[-1][1] : s].strip():
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]), name)
        else:
            merged.append((s, e, name))
    by_value: dict[str, dict[str, Any]] = {}
    for s, e, name in merged:
        entry = by_value.get(name)
        if entry is None:
            by_value[name] = {
                **_span(text, s, e),
                "value": name,
                "mentions": [{"start": s, "end": e}],
            }
        else:
            entry["mentions"].append({"start": s, "end": e})
    return list(by_value.values())


_VOCAL_QUALIFIER = (
    r"female|male|women's|men's|children's|child|boys'?|girls'?|mixed|lead|backing|background|"
    r"harmony|harmonized|harmonised|layered|stacked|double-tracked|doubled|solo|gang|choral|"
    r"falsetto|operatic|auto-?tuned|processed|spoken|rapped|chanted|guest|main"
)
_VOCAL_NOUN = (
    r"vocals?|vocalists?|vocali[sz]ations?|voices?|singers?|singing|crooner|choirs?|chorale|"
    r"bass-baritone|baritone|countertenor|tenor|mezzo-soprano|mezzo|soprano|contralto|alto|"
    r"falsetto|rapper|rapping|rapped|rap|spoken[\s-]word|a[\s-]cappella|beatboxing|yodel(?:l?ing)?|"
    r"throat[\s-]singing|overtone[\s-]singing|call[\s-]and[\s-]response|scat(?:ting)?|humming|"
    r"ad-libs?|chanting|chant"
)
_VOCALS = re.compile(
    rf"(?<![\w-])(?P<q>(?:(?i:{_VOCAL_QUALIFIER})[\s-]+){{0,3}})(?P<n>(?i:{_VOCAL_NOUN}))(?![\w-])"
)
_NOT_A_VOICE_AFTER = re.compile(
    r"[\s-]*(?i:sax(?:ophone)?s?|flutes?|clarinets?|recorders?|horns?|banjos?|drums?|guitars?|"
    r"ukuleles?|leading|memos?|notes?|clef|range\s+of\s+the\s+(?:guitar|sax))(?!\w)"
)
_INSTRUMENTAL = re.compile(
    r"(?i:(?<!\w)(?:(?:purely|entirely|fully|wholly|completely|strictly|is|remains|stays)\s+"
    r"instrumental(?!\w)(?!\s+(?:break|section|interlude|passage|solo|bridge|intro|outro|hook|"
    r"parts?|layers?|breaks|sections|[^\W\d_]+\s+section))|an\s+instrumental(?=\s*[.,;!]|\s+(?:"
    r"piece|track|song|composition|number|work|recording|tune|cut|version|performance|album)\b)))"
)
VOCAL_SINGULAR = {  # also the rewards' canonical vocal terms
    "vocals": "vocal",
    "voices": "voice",
    "singers": "singer",
    "vocalists": "vocalist",
    "choirs": "choir",
    "rapping": "rap",
    "rapper": "rap",
    "rapped": "rap",
}


def _vocal_value(phrase: str) -> str:
    words = _norm(phrase).split()
    if words:
        words[-1] = VOCAL_SINGULAR.get(words[-1], words[-1])
    return " ".join(words)


_SECTION_LABEL = re.compile(
    r"(?<![\w-])(?P<label>(?i:(?:(?:first|second|third|final|last|opening|closing|main|extended|"
    r"instrumental|guitar|piano|sax(?:ophone)?|drum|kora|sitar|violin|synth)\s+)?(?:"
    + "|".join(
        re.escape(label).replace(r"\ ", r"\s+")
        for label in sorted(SECTION_LABELS, key=len, reverse=True)
    )
    + r")(?:\s*\d(?![\d:]))?))(?![\w-])"
)


def _timed_sections(
    text: str, start: int, end: int, stamps: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Section labels tied to the timestamp beside them: "the chorus arrives at 1:05",
    "Verse 1 (0:15–0:45)", "0:45–1:30: first chorus"."""
    labels = list(_SECTION_LABEL.finditer(text, start, end))
    out = []
    for stamp in stamps:
        line_start = max(start, text.rfind("\n", start, stamp["start"]) + 1)
        for ch in ".;!?":
            cut = text.rfind(ch + " ", line_start, stamp["start"])
            if cut != -1:
                line_start = max(line_start, cut + 1)
        line_end = text.find("\n", stamp["end"], end)
        line_end = end if line_end == -1 else line_end
        before = [
            m
            for m in labels
            if line_start <= m.start()
            and m.end() <= stamp["start"]
            and stamp["start"] - m.end() <= 40
        ]
        after = [
            m
            for m in labels
            if stamp["end"] <= m.start() < line_end and m.start() - stamp["end"] <= 6
        ]
        label = before[-1] if before else (after[0] if after else None)
        if label is None:
            continue
        span = (min(label.start(), stamp["start"]), max(label.end(), stamp["end"]))
        out.append(
            {
                **_span(text, *span),
                "label": " ".join(label["label"].lower().split()),
                "start_seconds": stamp["seconds"],
                "end_seconds": stamp["seconds_end"],
            }
        )
    return out


def _span(text: str, start: int, end: int) -> dict[str, Any]:
    return {"start": start, "end": end, "text": text[start:end]}


def extract_claims(
    text: str, span: Span | None, target: str, exclude: list[Span] | None = None
) -> dict[str, Any]:
    """Everything the part of ``text`` in ``span`` claims; ``target`` ("answer"/"think") is
    copied into each claim so hints can say where it was.

    Single-valued claims (``tempo_bpm``, ``key``, ``meter``) give the first mention, the key's
    first mention that is not a passing modulation; ``*_mentions`` list them all. List claims give
    one entry per distinct value. Negated mentions ("no drums") go to ``negated`` instead.
    Nothing inside an ``exclude`` span (section headings such as "Vocals:") is a claim.
    """
    start, end = span if span is not None else (0, 0)
    region = _Region(text, start, end, skip=[(s, e, "") for s, e in exclude or []])
    tempos = find_tempos(text, start, end)
    keys = find_keys(text, start, end)
    meters = find_meters(text, start, end)

    instruments, genres = _instrument_and_genre_hits(region)
    languages = _language_hits(region, taken=[*instruments, *genres])
    vocals = _vocal_hits(region, taken=[*instruments, *genres, *languages])

    primary_key = next((k for k in keys if k["context"] == "key"), None) or next(
        (k for k in keys if k["context"] != "modulation"), None
    )
    claims: dict[str, Any] = {
        "tempo_bpm": tempos[0] if tempos else None,
        "tempo_mentions": tempos,
        "key": primary_key,
        "key_mentions": keys,
        "meter": meters[0] if meters else None,
        "meter_mentions": meters,
        "genres": _claim_list(text, genres),
        "instruments": _claim_list(text, instruments),
        "vocals": _claim_list(text, vocals),
        "languages": _claim_list(text, languages),
        "sections": _timed_sections(text, start, end, find_timestamps(text, start, end)),
        "negated": sorted(region.negated, key=lambda n: n["start"]),
    }
    for value in claims.values():
        for claim in value if isinstance(value, list) else [value]:
            if claim is not None:
                claim["target"] = target
    return claims


Hit = tuple[int, int, str]  # start, end, canonical value


class _Region:
    """The part of the text claims come from, the spans to skip, and the negated mentions found."""

    def __init__(self, text: str, start: int, end: int, skip: list[Hit]) -> None:
        self.text, self.start, self.end, self.skip = text, start, end, skip
        self.negated: list[dict[str, Any]] = []

    def keep(self, hit: Hit, kind: str, claimed: list[Hit]) -> None:
        """Add ``hit`` to ``claimed``, or to the negated mentions if a negation governs it."""
        s, e, name = hit
        if is_negated(self.text, self.start, s):
            self.negated.append({**_span(self.text, s, e), "kind": kind, "value": name})
        else:
            claimed.append(hit)


def _instrument_and_genre_hits(region: _Region) -> tuple[list[Hit], list[Hit]]:
    text, start, end = region.text, region.start, region.end
    instrument_hits = [
        h for h in _INSTRUMENTS.find(text, start, end) if not _overlaps(h, region.skip)
    ]
    genre_hits = [h for h in _GENRES.find(text, start, end) if not _overlaps(h, region.skip)]
    # Where an instrument and a genre overlap ("synth" in "synth-pop"), the longer match wins.
    instrument_hits = [
        h
        for h in instrument_hits
        if not any(_overlaps(h, [g]) and g[1] - g[0] > h[1] - h[0] for g in genre_hits)
    ]
    instruments: list[Hit] = []
    for s, e, name in instrument_hits:
        if _next_word(text, e, end) in INSTRUMENT_FALSE_FOLLOWERS.get(name, frozenset()):
            continue
        previous = _previous_words(text, start, s, 1)
        if previous and previous[0] in INSTRUMENT_FALSE_PRECEDERS.get(name, frozenset()):
            continue
        region.keep((s, e, name), "instrument", instruments)

    genre_hits = [h for h in genre_hits if not _overlaps(h, instruments)]
    genres: list[Hit] = []
    for index, (s, e, name) in enumerate(genre_hits):
        word = _norm(text[s:e])
        if word in AMBIGUOUS_GENRES or word.rstrip("s") in AMBIGUOUS_GENRES:
            # "country and soul", "soul/funk": beside another genre, joined by a list word.
            neighbours = genre_hits[max(0, index - 1) : index] + genre_hits[index + 1 : index + 2]
            near_genre = any(
                (_norm(text[os:oe]) not in AMBIGUOUS_GENRES or (os, oe, other) in genres)
                and (0 <= s - oe <= 8 or 0 <= os - e <= 8)
                and re.fullmatch(
                    r"[\s,/&-]*(?:and|or|with)?[\s,/&-]*", text[min(oe, e) : max(os, s)], re.I
                )
                for os, oe, other in neighbours
            )
            cue = set(_previous_words(text, start, s, 3)) & GENRE_CUES
            if not (_next_word(text, e, end) in GENRE_NOUNS or cue or near_genre):
                continue
        region.keep((s, e, name), "genre", genres)
    return instruments, genres


def _language_hits(region: _Region, taken: list[Hit]) -> list[Hit]:
    """Language names that are about the words sung: a cue such as "sung", "lyrics" nearby."""
    text, start, end = region.text, region.start, region.end
    languages: list[Hit] = []
    taken_starts = {s for s, _, _ in taken}
    for s, e, name in _LANGUAGES.find(text, start, end):
        if _overlaps((s, e, name), [*taken, *region.skip]):
            continue
        following = re.match(r"[\s-]*", text[e:end])
        if e + (following.end() if following else 0) in taken_starts:
            continue  # "Japanese enka", "Latin percussion": a culture, not the language sung
        window_start = max(start, s - 50, *(text.rfind(ch, start, s) + 1 for ch in ".!?\n"))
        stops = [p for p in (text.find(ch, e, end) for ch in ".!?\n") if p != -1]
        window_end = min([end, e + 50, *stops])
        words = {w.lower() for w in re.findall(r"[\w-]+", text[window_start:window_end])}
        if words & LANGUAGE_CUES or text[e:end].lower().startswith("-language"):
            region.keep((s, e, name), "language", languages)
    return languages


def _vocal_hits(region: _Region, taken: list[Hit]) -> list[Hit]:
    """Vocal descriptions; "no vocals" and "entirely instrumental" claim ``instrumental``."""
    text, start, end = region.text, region.start, region.end
    vocals: list[Hit] = []
    for match in _VOCALS.finditer(text, start, end):
        hit = (match.start(), match.end(), _vocal_value(match[0]))
        if _NOT_A_VOICE_AFTER.match(text, hit[1], end) or _overlaps(hit, [*taken, *region.skip]):
            continue
        negated_before = len(region.negated)
        region.keep(hit, "vocal", vocals)
        if len(region.negated) > negated_before and hit[2].split()[-1] in _PLAIN_VOICE:
            vocals.append((hit[0], hit[1], "instrumental"))
    for match in _INSTRUMENTAL.finditer(text, start, end):
        vocals.append((match.end() - len("instrumental"), match.end(), "instrumental"))
    return vocals


_PLAIN_VOICE = frozenset({"vocal", "voice", "singer", "singing", "vocalist"})


def _overlaps(hit: Hit, spans: list[Hit]) -> bool:
    return any(hit[0] < other[1] and other[0] < hit[1] for other in spans)


__all__ = [
    "extract_claims",
    "find_keys",
    "find_meters",
    "find_tempos",
    "find_timestamps",
    "is_negated",
    "normalise_tonic",
    "pitch_class",
]
