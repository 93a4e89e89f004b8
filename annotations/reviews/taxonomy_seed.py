"""The seed rows of the error taxonomy. Migration 0002 applies them; admins edit them afterwards."""

from __future__ import annotations

from typing import Any

# (code, name, kind, aspect, description, example)
CATEGORIES = [
    (
        "instrument-not-present",
        "Instrument not present",
        "hallucination",
        "instrumentation",
        "The text names an instrument or sound source that cannot be heard anywhere in the recording.",
        "“Tabla keeps time under the verse” when there is no percussion at all.",
    ),
    (
        "instrument-missed",
        "Instrument missed",
        "hallucination",
        "instrumentation",
        "A clearly audible, prominent instrument or voice is not mentioned where the text describes the instrumentation.",
        "A caption of a string quartet that never mentions the cello carrying the bass line.",
    ),
    (
        "wrong-tempo-meter",
        "Wrong tempo or metre",
        "hallucination",
        "rhythm",
        "Stated BPM, tempo character or time signature contradicts the audio (beyond half/double-time ambiguity you judge reasonable).",
        "“A brisk 140 BPM in 4/4” for a 6/8 piece at 92 BPM.",
    ),
    (
        "wrong-key-mode",
        "Wrong key or mode",
        "hallucination",
        "harmony",
        "Stated tonic, key or mode does not match the recording.",
        "“In E minor” for a piece in G major.",
    ),
    (
        "wrong-chords-harmony",
        "Wrong chords or harmony",
        "hallucination",
        "harmony",
        "Chord names, progressions, cadences or harmonic devices that are not what is played (altered, invented or misnamed chords).",
        "“A ii–V–I turnaround” where the harmony alternates I and IV.",
    ),
    (
        "wrong-structure-timestamps",
        "Wrong structure or timestamps",
        "hallucination",
        "structure",
        "Sections that do not exist, are in the wrong order, or have times more than a few seconds off.",
        "“The chorus enters at 0:45” when the first chorus starts at 1:12.",
    ),
    (
        "wrong-lyrics-language",
        "Wrong lyrics or language",
        "hallucination",
        "vocals",
        "Quoted or paraphrased lyrics that are not sung, lyrical themes the words do not support, or the wrong sung language.",
        "“Sung in Portuguese” for a song in Spanish.",
    ),
    (
        "wrong-vocal-description",
        "Wrong vocal description",
        "hallucination",
        "vocals",
        "Wrong number, register, gender presentation, technique or character of the voices, or vocals claimed in an instrumental.",
        "“A raspy baritone lead” for a soprano; “female vocals” in an instrumental track.",
    ),
    (
        "wrong-production-mix",
        "Wrong production or mix claim",
        "hallucination",
        "instrumentation",
        "Claims about recording, effects, mixing, mastering or sound design that the audio contradicts.",
        "“Heavy autotune and sidechained synths” on an unprocessed acoustic recording.",
    ),
    (
        "genre-mislabel",
        "Genre mislabel",
        "hallucination",
        "genre",
        "The genre or style named is wrong, or too generic where the text claims specificity.",
        "Calling a bossa nova “smooth jazz”.",
    ),
    (
        "reasoning-unsupported",
        "Reasoning step not supported by the audio",
        "hallucination",
        "reasoning",
        "A step of the <think> trace asserts an observation or inference the audio does not support.",
        "“The drummer switches to brushes at 2:10, so…” when nothing changes at 2:10.",
    ),
    (
        "answer-contradicts-reasoning",
        "Answer contradicts its own reasoning",
        "hallucination",
        "reasoning",
        "The final answer or caption states something its own reasoning trace concluded otherwise.",
        "The trace concludes D minor; the answer says D major.",
    ),
    (
        "misattributed-tradition",
        "Misattributed tradition or region",
        "cultural",
        "culture",
        "The music is attributed to the wrong tradition, culture, region or community.",
        "Calling a Carnatic kriti “Hindustani”; calling Malian griot music “West African highlife”.",
    ),
    (
        "wrong-regional-instrument-name",
        "Wrong name for a regional instrument",
        "cultural",
        "instrumentation",
        "A regional instrument is named as a different one, or only by a generic Western stand-in.",
        "“Sitar” for a sarod; “African guitar” for a kora.",
    ),
    (
        "western-theory-imposed",
        "Western theory forced onto a non-Western idiom",
        "cultural",
        "harmony",
        "Describing music through concepts that do not fit its idiom, such as major/minor keys or functional chords imposed on a maqam, raga, or pentatonic gamelan tuning.",
        "“In C minor with a flat second” for a piece in maqam Hijaz.",
    ),
    (
        "stereotyping-language",
        "Stereotyping or exoticising language",
        "cultural",
        "culture",
        "Clichéd, exoticising or demeaning descriptions of a culture, its people or its music.",
        "“Mysterious, primitive tribal rhythms”.",
    ),
]


def seed_error_taxonomy(apps: Any) -> None:
    """Create or refresh the seeded categories (takes a migration-time or the real app registry)."""
    error_category = apps.get_model("annotations", "ErrorCategory")
    for order, (code, name, kind, aspect, description, example) in enumerate(CATEGORIES):
        error_category.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "kind": kind,
                "aspect": aspect,
                "description": description,
                "example": example,
                "sort_order": order,
            },
        )
