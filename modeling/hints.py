"""Machine hints: where what the model said contradicts the song's measured analysis.

Hints are suggestions for an expert to confirm or dismiss, never flags. Each is tied to the span
of the claim in the raw text, so the review page can highlight it.
"""

from __future__ import annotations

from typing import Any

from modeling.claims import pitch_class

TEMPO_TOLERANCE = 0.08
_MAJOR_LIKE = {"major", "ionian", "lydian", "mixolydian"}
_MINOR_LIKE = {"minor", "aeolian", "dorian", "phrygian", "locrian"}
# Semitones from a mode's tonic up to the tonic of the major scale with the same notes.
_TO_PARENT_MAJOR = {
    "major": 0,
    "ionian": 0,
    "dorian": -2,
    "phrygian": -4,
    "lydian": -5,
    "mixolydian": -7,
    "minor": -9,
    "aeolian": -9,
    "locrian": -11,
}
_WHO = {"answer": "Caption", "think": "Reasoning"}


def find_hints(parsed: dict[str, Any], analysis_facts: dict[str, Any]) -> list[dict[str, Any]]:
    """Hints for claims in ``parsed`` (from ``parse_generation``) that the analysis contradicts.

    ``analysis_facts`` has ``tempo_bpm``, ``tempo_confidence``, ``key_tonic`` ("F#"), ``key_mode``
    ("major"/"minor"), ``key_confidence`` and ``duration_seconds``; a fact that is ``None`` (or
    missing) produces no hints of its kind. Rules:

    - tempo: every tempo mention more than 8 % away from the measured tempo, its half and its
      double (a range counts if any value in it is close enough);
    - key: every key mention, other than passing modulations, that is neither the measured key nor
      its relative, enharmonics included (F♯ minor = G♭ minor); modal names count as their
      parent scale (D dorian is consistent with C major and with D minor);
    - timestamp: every time mention beyond the song's duration (by more than its precision).

    >>> parsed = {"claims": {"tempo_mentions": [{"value": 128.0, "low": 128.0, "high": 128.0,
    ...     "start": 40, "end": 47, "text": "128 BPM", "target": "answer"}]}}
    >>> [h["message"] for h in find_hints(parsed, {"tempo_bpm": 92.3})]
    ['Caption says 128 BPM; analysis measured 92.3 BPM (not half or double).']
    >>> find_hints(parsed, {"tempo_bpm": 64.0})
    []
    """
    hints: list[dict[str, Any]] = []
    seen: set[tuple[str, int, int]] = set()

    def add(
        kind: str, claim: dict[str, Any], claimed: Any, measured: Any, message: str, **extra: Any
    ) -> None:
        if (kind, claim["start"], claim["end"]) in seen:
            return
        seen.add((kind, claim["start"], claim["end"]))
        hints.append(
            {
                "kind": kind,
                "target": claim.get("target") or "answer",
                "start": claim["start"],
                "end": claim["end"],
                "quoted_text": claim["text"],
                "claimed": claimed,
                "measured": measured,
                "message": message,
                **extra,
            }
        )

    claim_sets = [parsed.get("claims") or {}, parsed.get("think_claims") or {}]

    measured_bpm = analysis_facts.get("tempo_bpm")
    if measured_bpm:
        for claims in claim_sets:
            for tempo in claims.get("tempo_mentions") or []:
                if _tempo_agrees(tempo["low"], tempo["high"], float(measured_bpm)):
                    continue
                claimed = (
                    _number(tempo["low"])
                    if tempo["low"] == tempo["high"]
                    else (f"{_number(tempo['low'])}–{_number(tempo['high'])}")
                )
                add(
                    "tempo",
                    tempo,
                    tempo["value"],
                    float(measured_bpm),
                    f"{_who(tempo)} says {claimed} BPM; analysis measured "
                    f"{_number(measured_bpm)} BPM (not half or double).",
                    confidence=analysis_facts.get("tempo_confidence"),
                )

    tonic, mode = analysis_facts.get("key_tonic"), analysis_facts.get("key_mode")
    if tonic and mode in {"major", "minor"}:
        measured_key = f"{_display(tonic)} {mode}"
        relative = _relative(tonic, mode)
        for claims in claim_sets:
            for key in claims.get("key_mentions") or []:
                if key.get("context") == "modulation" or _key_agrees(
                    key["tonic"], key["mode"], tonic, mode
                ):
                    continue
                claimed = (
                    f"{_display(key['tonic'])} {key['mode']}"
                    if key["mode"]
                    else _display(key["tonic"])
                )
                add(
                    "key",
                    key,
                    claimed,
                    measured_key,
                    f"{_who(key)} says {claimed}; analysis measured {measured_key} "
                    f"(neither that key nor its relative, {relative}).",
                    confidence=analysis_facts.get("key_confidence"),
                )

    duration = analysis_facts.get("duration_seconds")
    if duration:
        sections = [s for claims in claim_sets for s in claims.get("sections") or []]
        for stamp in parsed.get("timestamps") or []:
            latest = (
                stamp["seconds_end"] if stamp.get("seconds_end") is not None else stamp["seconds"]
            )
            if latest - max(1.0, stamp.get("precision") or 1.0) <= float(duration):
                continue
            label = next(
                (
                    s["label"]
                    for s in sections
                    if s["start"] <= stamp["start"] and stamp["end"] <= s["end"]
                ),
                None,
            )
            what = f"the {label} at {stamp['text']}" if label else stamp["text"]
            add(
                "timestamp",
                stamp,
                latest,
                float(duration),
                f"{_who(stamp)} places {what}, but the song is only {_clock(float(duration))} long.",
            )
    return sorted(hints, key=lambda h: (h["start"], h["kind"]))


def _who(claim: dict[str, Any]) -> str:
    return _WHO.get(claim.get("target") or "answer", "Caption")


def _number(value: float) -> str:
    return f"{value:g}" if float(value).is_integer() else f"{float(value):.1f}"


def _clock(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def _tempo_agrees(low: float, high: float, measured: float) -> bool:
    """Whether some tempo in [low, high] is within 8 % of the measured tempo, its half or double.

    >>> _tempo_agrees(128, 128, 92.3), _tempo_agrees(184, 184, 92.3), _tempo_agrees(88, 96, 92.3)
    (False, True, True)
    """
    for reference in (measured, measured / 2, measured * 2):
        closest = min(max(reference, low), high)
        if abs(closest - reference) <= TEMPO_TOLERANCE * reference:
            return True
    return False


def _key_agrees(tonic: str, mode: str | None, measured_tonic: str, measured_mode: str) -> bool:
    """Whether a claimed key is the measured key or its relative (enharmonics and modes allowed).

    >>> _key_agrees("Gb", "minor", "F#", "minor"), _key_agrees("A", "major", "F#", "minor")
    (True, True)
    >>> _key_agrees("D", "dorian", "C", "major"), _key_agrees("C", "minor", "C", "major")
    (True, False)
    """
    claimed_pc, measured_pc = pitch_class(tonic), pitch_class(measured_tonic)
    measured_parent = (measured_pc + _TO_PARENT_MAJOR[measured_mode]) % 12
    if mode is None:
        relative_pc = (measured_pc + (-3 if measured_mode == "major" else 3)) % 12
        return claimed_pc in {measured_pc, relative_pc}
    if mode not in _TO_PARENT_MAJOR:
        return True
    if (claimed_pc + _TO_PARENT_MAJOR[mode]) % 12 == measured_parent:
        return True
    same_family = _MAJOR_LIKE if measured_mode == "major" else _MINOR_LIKE
    return claimed_pc == measured_pc and mode in same_family


def _relative(tonic: str, mode: str) -> str:
    pc = (pitch_class(tonic) + (-3 if mode == "major" else 3)) % 12
    names = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
    if mode == "major":
        names = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "Bb", "B"]
    return f"{_display(names[pc])} {'minor' if mode == 'major' else 'major'}"


def _display(tonic: str) -> str:
    """``"F#"`` → ``"F♯"``, ``"Bb"`` → ``"B♭"``: how musicians write keys."""
    return tonic[0].upper() + tonic[1:].replace("#", "♯").replace("b", "♭")
