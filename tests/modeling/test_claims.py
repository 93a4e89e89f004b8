"""Claims one at a time: timestamps, tempo, key, metre, vocabularies and negation."""

from __future__ import annotations

from typing import Any

import pytest

from modeling import vocabulary
from modeling.claims import (
    extract_claims,
    find_keys,
    find_meters,
    find_tempos,
    find_timestamps,
    is_negated,
    pitch_class,
)


def stamps(text: str) -> list[tuple[str, float, float | None]]:
    return [
        (t["text"], t["seconds"], t["seconds_end"]) for t in find_timestamps(text, 0, len(text))
    ]


def claims(text: str) -> dict[str, Any]:
    return extract_claims(text, (0, len(text)), "answer")


def values(text: str, kind: str) -> list[str]:
    return [c["value"] for c in claims(text)[kind]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The drop hits at 1:23.", [("1:23", 83.0, None)]),
        ("A coda at 01:02:03 closes the live set.", [("01:02:03", 3723.0, None)]),
        ("[00:45] the vocals enter", [("00:45", 45.0, None)]),
        ("The bridge comes at 2 min 10.", [("2 min 10", 130.0, None)]),
        ("A break at 2m10s.", [("2m10s", 130.0, None)]),
        ("A break at 2m 10s.", [("2m 10s", 130.0, None)]),
        ("It shifts after 2 minutes and 10 seconds.", [("2 minutes and 10 seconds", 130.0, None)]),
        ("The bridge at 1h02m03s.", [("1h02m03s", 3723.0, None)]),
        ("It peaks around the 3-minute mark.", [("3-minute mark", 180.0, None)]),
        ("It peaks around the 3 minute mark.", [("3 minute mark", 180.0, None)]),
        ("The choir enters 90 seconds in.", [("90 seconds in", 90.0, None)]),
        ("Two minutes in, the drums stop.", [("Two minutes in", 120.0, None)]),
        ("A pause at 45 seconds.", [("45 seconds", 45.0, None)]),
        ("Around 2.5 minutes the key shifts.", [("2.5 minutes", 150.0, None)]),
        ("The chorus 0:45–1:30 soars.", [("0:45–1:30", 45.0, 90.0)]),
        ("The chorus 0:45-1:30 soars.", [("0:45-1:30", 45.0, 90.0)]),
        ("The solo runs from 2:05 to 2:40.", [("2:05 to 2:40", 125.0, 160.0)]),
        ("It swells between 1:10 and 1:40.", [("1:10 and 1:40", 70.0, 100.0)]),
        ("Two hits: 1:10 and 1:40.", [("1:10", 70.0, None), ("1:40", 100.0, None)]),
        ("A 1:23.5 accent.", [("1:23.5", 83.5, None)]),
    ],
)
def test_timestamps_are_found_and_converted(text: str, expected: list[Any]) -> None:
    assert stamps(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "A 3:2 polyrhythm in 12/8.",  # a ratio and a metre
        "A 20-second intro of rain sounds.",  # a duration, not a point
        "Recorded in the 1930s.",
        "Doors at 8:30 pm.",
        "A 4-minute song at 120 BPM.",
    ],
)
def test_things_that_are_not_points_in_the_audio(text: str) -> None:
    assert stamps(text) == []


def test_whole_minute_mentions_are_imprecise() -> None:
    [mark] = find_timestamps("around the 3-minute mark", 0, 24)
    [clock] = find_timestamps("at 3:00", 0, 7)
    assert (mark["precision"], clock["precision"]) == (30.0, 1.0)


@pytest.mark.parametrize(
    ("text", "value", "low", "high"),
    [
        ("It moves at 128 BPM.", 128.0, 128.0, 128.0),
        ("A brisk 128bpm groove.", 128.0, 128.0, 128.0),
        ("Roughly 92.5 beats per minute.", 92.5, 92.5, 92.5),
        ("Somewhere between 90–95 BPM.", 92.5, 90.0, 95.0),
        ("About 88 to 92 bpm.", 90.0, 88.0, 92.0),
        ("The tempo is around 74, with rubato.", 74.0, 74.0, 74.0),
        ("Tempo: 140.", 140.0, 140.0, 140.0),
        ("♩ = 96 throughout.", 96.0, 96.0, 96.0),
    ],
)
def test_tempo_claims(text: str, value: float, low: float, high: float) -> None:
    [tempo] = find_tempos(text, 0, len(text))
    assert (tempo["value"], tempo["low"], tempo["high"]) == (value, low, high)
    assert text[tempo["start"] : tempo["end"]] == tempo["text"]


@pytest.mark.parametrize(
    "text",
    [
        "The tempo rises by 10% in the chorus.",
        "A tempo change at 2:30.",
        "Bars 16 to 32 at 440 Hz.",
    ],
)
def test_not_tempo_claims(text: str) -> None:
    assert find_tempos(text, 0, len(text)) == []


@pytest.mark.parametrize(
    ("text", "tonic", "mode"),
    [
        ("The song is in F♯ minor.", "F#", "minor"),
        ("It is in B♭ major.", "Bb", "major"),
        ("Set in Bb major.", "Bb", "major"),
        ("Set in A-flat major.", "Ab", "major"),
        ("Set in G sharp minor.", "G#", "minor"),
        ("Set in C# minor.", "C#", "minor"),
        ("Key: Em.", "E", "minor"),
        ("Key: F#m, 4/4.", "F#", "minor"),
        ("In the key of D.", "D", None),
        ("A D Dorian vamp.", "D", "dorian"),
        ("A minor, the relative of C, is home.", "A", "minor"),
        ("It sits in E MINOR.", "E", "minor"),
        ("A vamp in F#m.", "F#", "minor"),
        ("Mostly in Bbm, briefly Db.", "Bb", "minor"),
        ("Played in Ebmaj.", "Eb", "major"),
    ],
)
def test_key_claims(text: str, tonic: str, mode: str | None) -> None:
    [key, *_] = find_keys(text, 0, len(text))
    assert (key["tonic"], key["mode"]) == (tonic, mode)


@pytest.mark.parametrize(
    "text",
    [
        "A major influence on the song is gospel.",
        "The piano plays an E minor chord.",
        "She plays a minor role.",
        "It resolves on a C major triad.",
        "THE MINOR FALL",
        "A snare that pops in AM radio mixes.",
    ],
)
def test_not_key_claims(text: str) -> None:
    assert find_keys(text, 0, len(text)) == []


def test_a_modulation_is_not_the_key() -> None:
    text = "The verse is in E major and the bridge modulates to G major."
    parsed = claims(text)
    assert (parsed["key"]["tonic"], parsed["key"]["mode"]) == ("E", "major")
    assert [k["context"] for k in parsed["key_mentions"]] == [None, "modulation"]


def test_a_stated_key_wins_over_an_earlier_passing_one() -> None:
    text = "Opening on a G major vamp, the song's home key is E minor."
    assert claims(text)["key"]["tonic"] == "E"


@pytest.mark.parametrize(
    ("tonic", "pc"), [("C", 0), ("F#", 6), ("Gb", 6), ("F♯", 6), ("B♭", 10), ("Cb", 11), ("E#", 5)]
)
def test_pitch_classes_treat_enharmonics_alike(tonic: str, pc: int) -> None:
    assert pitch_class(tonic) == pc


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Straight 4/4 with a backbeat.", ["4/4"]),
        ("A lilting 6/8 feel, then 7/8.", ["6/8", "7/8"]),
        ("Written in common time.", ["4/4"]),
        ("A slow waltz time.", ["3/4"]),
        ("Set to rupak tal (7 beats).", ["rupak tal"]),
        ("Eighth notes at 1/8 note subdivisions.", []),
        ("Released 24/7 and 3/4/2020.", []),
    ],
)
def test_metre_claims(text: str, expected: list[str]) -> None:
    assert [m["value"] for m in find_meters(text, 0, len(text))] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sitar, tabla and tanpura.", ["sitar", "tabla", "tanpura"]),
        ("An oud and a qanun over darbuka.", ["oud", "qanun", "darbuka"]),
        ("Kora with balafon and djembé.", ["kora", "balafon", "djembe"]),
        ("Erhu, guzheng and pipa.", ["erhu", "guzheng", "pipa"]),
        ("Shamisen, koto and taiko drums.", ["shamisen", "koto", "taiko"]),
        ("A Balinese gamelan.", ["gamelan"]),
        ("Bandoneon and violin.", ["bandoneon", "violin"]),
        ("Bouzouki, duduk and zurna.", ["bouzouki", "duduk", "zurna"]),
        ("Two TABLAS and a Sitar.", ["tabla", "sitar"]),
        ("A cajón and bodhrán.", ["cajon", "bodhran"]),
        ("Crisp hi-hats and hi hat rolls.", ["hi-hat"]),
        ("Bass-heavy mix with deep bass frequencies.", []),
        ("A drumless track, a drummer-free mix.", []),
        ("The sympathetic strings ring out.", []),
    ],
)
def test_instrument_claims(text: str, expected: list[str]) -> None:
    assert values(text, "instruments") == expected


def test_the_instrument_vocabulary_covers_non_western_traditions() -> None:
    names = set(vocabulary.INSTRUMENTS)
    assert len(names) >= 150
    assert {"sitar", "tabla", "oud", "kora", "erhu", "guzheng", "shamisen", "gamelan"} <= names
    assert {"bandoneon", "bouzouki", "djembe", "duduk", "mbira", "morin khuur"} <= names
    assert len(vocabulary.GENRES) >= 100


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A Hindustani classical alap.", ["hindustani classical"]),
        ("Rooted in Malian griot tradition.", ["griot tradition"]),
        ("Japanese enka with strings.", ["enka"]),
        ("A blend of K-pop and R&B.", ["k-pop", "r&b"]),
        ("Drum and bass with dubstep wobbles.", ["drum and bass", "dubstep"]),
        ("Classic country music with fiddle.", ["country"]),
        ("A blend of country and soul.", ["country", "soul"]),
        ("Deep house beats.", ["house"]),
        ("The snare pops and the kick punches.", []),
        ("Fado, flamenco and qawwali.", ["fado", "flamenco", "qawwali"]),
        ("Afrobeat horns and highlife guitar.", ["afrobeat", "highlife"]),
    ],
)
def test_genre_claims(text: str, expected: list[str]) -> None:
    assert values(text, "genres") == expected


@pytest.mark.parametrize(
    "text",
    [
        "Mali, a country in West Africa.",
        "The soul of the song is its lyric.",
        "Recorded in a house in the hills.",
        "A gentle swing feel.",
        "It is not jazz.",
    ],
)
def test_ordinary_words_are_not_genres(text: str) -> None:
    assert values(text, "genres") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "A female lead vocal with male backing vocals.",
            ["female lead vocal", "male backing vocal"],
        ),
        ("A male baritone over a choir.", ["male baritone", "choir"]),
        ("The piece is entirely instrumental.", ["instrumental"]),
        ("A purely instrumental track with no vocals.", ["instrumental"]),
        ("An instrumental break at 2:00 before the singer returns.", ["singer"]),
        ("An instrumental sama'i section precedes the singer.", ["singer"]),
        ("This is an instrumental piece.", ["instrumental"]),
        ("It is largely instrumental, with humming in the coda.", ["humming"]),
        ("Tenor sax and alto saxophone solos.", []),
        ("Smooth voice leading in the strings.", []),
        ("Rapped verses and a sung hook.", ["rap"]),
    ],
)
def test_vocal_claims(text: str, expected: list[str]) -> None:
    assert values(text, "vocals") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The lyrics are sung in Hindi.", ["Hindi"]),
        ("Sung in Bambara with Mandinka phrases.", ["Bambara", "Mandinka"]),
        ("Spanish-language refrain.", ["Spanish"]),
        ("Japanese lyrics over strings.", ["Japanese"]),
        ("Japanese enka from the 1980s.", []),  # a culture, not the words
        ("Latin percussion drives it; the lyrics are in Spanish.", ["Spanish"]),
        ("An English horn solo.", []),
        ("A French café atmosphere.", []),
    ],
)
def test_language_claims(text: str, expected: list[str]) -> None:
    assert values(text, "languages") == expected


@pytest.mark.parametrize(
    ("text", "negated"),
    [
        ("There are no drums.", True),
        ("A track without drums.", True),
        ("It has no drums or bass.", True),
        ("It doesn't feature any drums.", True),
        ("Not only drums but also bells.", False),
        ("No vocals; the drums carry it.", False),
        ("Drums enter at 0:14.", False),
        ("Without losing the groove of the drums.", False),
        ("It uses congas rather than drums.", True),
        ("Not to be confused with drums.", True),
        ("Unlike most drums, it rings.", True),
    ],
)
def test_simple_negation(text: str, negated: bool) -> None:
    position = text.lower().index("drums")
    assert is_negated(text, 0, position) is negated


def test_negated_mentions_are_not_claims() -> None:
    parsed = claims("Without vocals and with no drums, only a harp plays.")
    assert [c["value"] for c in parsed["instruments"]] == ["harp"]
    assert [c["value"] for c in parsed["vocals"]] == ["instrumental"]
    assert {(n["kind"], n["value"]) for n in parsed["negated"]} == {
        ("vocal", "vocal"),
        ("instrument", "drums"),
    }


def test_claims_ignore_the_excluded_heading_spans() -> None:
    text = "Vocals: a choir sings."
    parsed = extract_claims(text, (0, len(text)), "answer", [(0, 6)])
    assert [c["value"] for c in parsed["vocals"]] == ["choir"]


def test_every_claim_carries_its_target() -> None:
    text = (
        "A 6/8 tune in D minor at 90 BPM with sitar, sung in Urdu by a male singer, chorus at 1:10."
    )
    parsed = extract_claims(text, (0, len(text)), "think")
    for key in ("tempo_bpm", "key", "meter"):
        assert parsed[key]["target"] == "think"
    for key in ("instruments", "languages", "vocals", "sections"):
        assert parsed[key] and all(c["target"] == "think" for c in parsed[key])
