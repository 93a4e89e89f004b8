"""Music-aware matchers for the structured-thinking reward: tempo, key, metre, term sets, sections.

Each returns a credit in [0, 1] for a claimed value against a gold one; the conventions follow
MIREX (tempo within 4 %, weighted key score, boundary hit rate at ±3 s).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from modeling.claims import VOCAL_SINGULAR, find_meters, normalise_tonic, pitch_class
from modeling.vocabulary import GENRES, INSTRUMENTS, LANGUAGES

TEMPO_TOLERANCE = 0.04
BOUNDARY_WINDOW_S = 3.0

# --- tempo ---------------------------------------------------------------------------------------


def bpm_credit(claimed: float | None, gold: float) -> float:
    """1.0 within 4 % of the gold tempo, 0.5 at double or half of it (within 4 %), else 0.0.

    The half/double rule is the usual octave-error allowance: a listener tapping every other beat
    has the pulse right and its level wrong, which is worth something but not the full credit.

    >>> bpm_credit(124.0, 120.0), bpm_credit(61.0, 120.0), bpm_credit(236.0, 120.0), bpm_credit(90.0, 120.0)
    (1.0, 0.5, 0.5, 0.0)
    """
    if claimed is None or gold <= 0:
        return 0.0
    tolerance = TEMPO_TOLERANCE * gold
    if abs(claimed - gold) <= tolerance:
        return 1.0
    if abs(2 * claimed - gold) <= tolerance or abs(claimed / 2 - gold) <= tolerance:
        return 0.5
    return 0.0


# --- key -----------------------------------------------------------------------------------------

_KEY = re.compile(
    r"^\s*(?P<letter>[A-Ga-g])\s*(?P<acc>[#♯♭]|b(?![a-ln-z])|[\s-]?(?:sharp|flat)(?![a-z]))?"
    r"[\s-]*(?P<mode>major|minor|maj|min|m|ionian|aeolian|dorian|phrygian|lydian|mixolydian|locrian)?"
    r"\s*$",
    re.IGNORECASE,
)
_MODE_ALIASES = {
    "maj": "major",
    "min": "minor",
    "m": "minor",
    "ionian": "major",
    "aeolian": "minor",
}


def parse_key(text: str) -> tuple[int, str] | None:
    """``(pitch class, mode)`` of a key written like ``"F# minor"``, ``"B♭ major"``, ``"Em"``,
    ``"A-flat major"`` or ``"D dorian"``; a bare tonic is major; ``None`` if it is not a key.
    Ionian is major and aeolian minor, as MIREX's evaluation treats them.

    >>> parse_key("F♯ minor"), parse_key("Gb minor"), parse_key("Bb"), parse_key("D Dorian")
    ((6, 'minor'), (6, 'minor'), (10, 'major'), (2, 'dorian'))
    >>> parse_key("sad") is None
    True
    """
    match = _KEY.match(unicodedata.normalize("NFKC", text))
    if match is None:
        return None
    tonic = normalise_tonic(match["letter"].upper(), match["acc"])
    mode = (match["mode"] or "major").lower()
    if match["mode"] == "M":  # "CM" is C major in chord-symbol spelling
        mode = "major"
    return pitch_class(tonic), _MODE_ALIASES.get(mode, mode)


def key_credit(claimed: str | None, gold: str) -> float:
    """MIREX weighted key score of a claimed key against the gold key, fifths in both directions.

    Same tonic (enharmonics equal) and mode 1.0; the claimed tonic a perfect fifth above or below
    the gold, same mode, 0.5; the relative major/minor 0.3; the parallel major/minor 0.2; else 0.
    Modal keys (dorian, lydian…) only score when exact. This is ``mir_eval.key.weighted_score``
    (reference = gold) except that mir_eval 0.8 credits only the fifth above; a fifth below is the
    same error in the other direction and earns the same 0.5 here.

    >>> [key_credit(k, "C major") for k in ("C major", "G major", "F major", "A minor", "C minor", "D major")]
    [1.0, 0.5, 0.5, 0.3, 0.2, 0.0]
    >>> key_credit("E minor", "A minor"), key_credit("C major", "A minor"), key_credit("A♯ minor", "B♭ minor")
    (0.5, 0.3, 1.0)
    """
    if claimed is None:
        return 0.0
    c, g = parse_key(claimed), parse_key(gold)
    if c is None or g is None:
        return 0.0
    (c_pc, c_mode), (g_pc, g_mode) = c, g
    if c == g:
        return 1.0
    if {c_mode, g_mode} - {"major", "minor"}:
        return 0.0
    interval = (c_pc - g_pc) % 12
    if c_mode == g_mode:
        return 0.5 if interval in (5, 7) else 0.0
    if (g_mode, interval) in (("major", 9), ("minor", 3)):  # the relative minor/major
        return 0.3
    return 0.2 if interval == 0 else 0.0


# --- metre ---------------------------------------------------------------------------------------


def normalise_meter(text: str) -> str:
    """The claims parser's value for a metre ("common time" is "4/4", talas keep their names),
    else the text casefolded without spaces.

    >>> normalise_meter("Common time"), normalise_meter(" 6 / 8 "), normalise_meter("Teentaal")
    ('4/4', '6/8', 'teentaal')
    """
    meters = find_meters(text, 0, len(text))
    if meters:
        return str(meters[0]["value"])
    return re.sub(r"\s+", "", text.casefold())


def meter_credit(claimed: str | None, gold: str) -> float:
    """1.0 when the claimed metre equals the gold after ``normalise_meter``, else 0.0.

    >>> meter_credit("common time", "4/4"), meter_credit("3/4", "6/8")
    (1.0, 0.0)
    """
    if claimed is None:
        return 0.0
    return 1.0 if normalise_meter(claimed) == normalise_meter(gold) else 0.0


# --- term sets -----------------------------------------------------------------------------------


def _norm(term: str) -> str:
    """The claims parser's vocabulary key: casefolded, hyphens and whitespace as one space."""
    return re.sub(r"[\s\-]+", " ", unicodedata.normalize("NFKC", term).casefold()).strip()


def _canonical_map(entries: dict[str, tuple[str, ...]]) -> dict[str, str]:
    canonical: dict[str, str] = {}
    for name, aliases in entries.items():
        for alias in (name, *aliases):
            canonical.setdefault(_norm(alias), name.casefold())
    return canonical


_VOCABULARIES = {
    "instruments": _canonical_map(INSTRUMENTS),
    "genres": _canonical_map(GENRES),
    "languages": _canonical_map(LANGUAGES),
}
# Experts write "none" for an instrumental track's vocals and languages (see the review form).
_NONE = {"vocals": {"instrumental"}, "languages": set()}


def canonical_term(term: str, kind: str | None = None) -> str:
    """A term as the claims parser names it: the vocabulary's canonical name for known
    instruments, genres and languages (plurals of instruments too), vocals with a singular noun,
    anything else casefolded with hyphens and spaces collapsed.

    >>> canonical_term("Tablas", "instruments"), canonical_term("Synthpop", "genres")
    ('tabla', 'synth-pop')
    >>> canonical_term("Female Vocals", "vocals"), canonical_term("Kobushi", "vocals")
    ('female vocal', 'kobushi')
    """
    key = _norm(term)
    vocabulary = _VOCABULARIES.get(kind or "")
    if vocabulary is not None:
        for candidate in (key, key[:-1], key[:-2]) if kind == "instruments" else (key,):
            if candidate in vocabulary:
                return vocabulary[candidate]
    if kind == "vocals":
        words = key.split()
        if words:
            words[-1] = VOCAL_SINGULAR.get(words[-1], words[-1])
        return " ".join(words)
    return key


def canonical_set(terms: Iterable[str], kind: str | None = None) -> set[str]:
    """``canonical_term`` of each term; a lone "none" for vocals or languages is the instrumental
    answer ({"instrumental"} and the empty set).

    >>> sorted(canonical_set(["Sitar", "tanpura", "Tabla"], "instruments"))
    ['sitar', 'tabla', 'tanpura']
    >>> canonical_set(["none"], "vocals"), canonical_set(["None"], "languages")
    ({'instrumental'}, set())
    """
    values = {canonical_term(t, kind) for t in terms if str(t).strip()}
    if values == {"none"} and kind in _NONE:
        return set(_NONE[kind])
    return values


def set_overlap(gold: Iterable[str], claimed: Iterable[str], kind: str | None = None) -> float:
    """Jaccard overlap |gold ∩ claimed| / |gold ∪ claimed| of the canonical terms (1.0 when both
    are empty: an instrumental track with no language claimed is right).

    >>> set_overlap(["sitar", "tabla", "tanpura"], ["Sitar", "tablas", "harmonium"], "instruments")
    0.5
    """
    g, c = canonical_set(gold, kind), canonical_set(claimed, kind)
    union = g | c
    return len(g & c) / len(union) if union else 1.0


# --- sections ------------------------------------------------------------------------------------


def boundary_hits(gold: Sequence[float], claimed: Sequence[float], window: float) -> int:
    """The largest one-to-one matching of boundaries at most ``window`` seconds apart.

    On a line, matching the earliest unmatched pair that fits is optimal (any maximum matching can
    be exchanged into it), so a single sorted pass suffices.
    """
    g, c = sorted(set(gold)), sorted(set(claimed))
    i = j = hits = 0
    while i < len(g) and j < len(c):
        if abs(g[i] - c[j]) <= window:
            hits, i, j = hits + 1, i + 1, j + 1
        elif g[i] < c[j]:
            i += 1
        else:
            j += 1
    return hits


def boundary_f(
    gold: Sequence[float], claimed: Sequence[float], window: float = BOUNDARY_WINDOW_S
) -> float:
    """MIREX segment-boundary hit rate F-measure: boundaries match one-to-one within ±``window``
    seconds; F = 2PR / (P + R) over the distinct boundaries (none are trimmed).

    >>> round(boundary_f([0.0, 30.0, 62.0, 95.0], [0.0, 31.5, 70.0]), 4)  # P 2/3, R 2/4
    0.5714
    """
    g, c = set(gold), set(claimed)
    hits = boundary_hits(sorted(g), sorted(c), window)
    if not hits:
        return 0.0
    precision, recall = hits / len(c), hits / len(g)
    return 2 * precision * recall / (precision + recall)


__all__ = [
    "boundary_f",
    "boundary_hits",
    "bpm_credit",
    "canonical_set",
    "canonical_term",
    "key_credit",
    "meter_credit",
    "normalise_meter",
    "parse_key",
    "set_overlap",
]
