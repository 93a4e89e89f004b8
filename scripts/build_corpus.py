"""Render music21's bundled corpus to audio with ground truth, for the analysis tests and benchmark.

    .venv/bin/python scripts/build_corpus.py --split eval --count 200

Deterministic: the same split and count always give the same pieces, tempi, instruments and drum
tracks. Cached under ``${WORKBENCH_CORPUS_DIR:-var/corpus}/v<CORPUS_VERSION>/``: each candidate
piece's ground truth (or the reason it was left out) and its FLAC are kept, so a second run only
reads small JSON files. Bump CORPUS_VERSION whenever rendering or ground truth would change.

Pieces: Bach chorales, Essen folk songs (with their region), O'Neill's Irish tunes. A quarter get
a General MIDI drum track. The candidate pool is split once by a hash of the piece id into a
``tune`` split (for choosing the analyser's parameters) and a disjoint ``eval`` split (for the
figures we report), so the reported accuracy is on pieces the analyser was never tuned on.

Ground truth comes from the score after repeats are expanded (MIDI plays them out), with one time
signature for the whole piece, bars that are whole beats, and a key whose tonic is the last bass
note: pieces that fail any of these are left out, not guessed. The MIDI file is written here rather
than by music21's exporter, which repeats one time-signature event per part.

Needs Debian's ``fluidsynth`` and ``fluid-soundfont-gm``. The Essen songs are for non-commercial use:
the audio is generated on the fly and never committed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

CORPUS_VERSION = "2"
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
SAMPLE_RATE = 44100
MAX_SECONDS = 75.0
REPO = Path(__file__).resolve().parent.parent

# The beat (in quarter notes) a listener taps for each metre we keep; others are left out.
BEAT_QUARTERS = {
    "2/4": 1.0,
    "3/4": 1.0,
    "4/4": 1.0,
    "2/2": 2.0,
    "3/2": 2.0,
    "6/8": 1.5,
    "9/8": 1.5,
    "12/8": 1.5,
}
ESSEN_FILES = [
    "altdeu10",
    "ballad10",
    "boehme10",
    "dva0",
    "fink0",
    "han1",
    "kinder0",
    "lot",
    "lux",
    "zuccal0",
]
ONEILL_FILES = ["0001-0050", "0051-0100", "0101-0200", "0201-0300", "0501-0550", "0626-0700"]
# General MIDI programs, one tuple per ensemble.
CHORALE_ENSEMBLES = {
    "organ": (19, 19, 19, 19),
    "strings": (40, 41, 42, 43),
    "choir": (52, 52, 52, 52),
    "woodwinds": (73, 68, 71, 70),
    "brass": (56, 60, 57, 58),
    "piano": (0, 0, 0, 0),
}
MELODY_INSTRUMENTS = {
    "piano": 0,
    "violin": 40,
    "flute": 73,
    "accordion": 21,
    "clarinet": 71,
    "nylon guitar": 24,
    "tin whistle": 78,
    "uilleann pipes": 109,
}
KICK, SNARE, HIHAT = 36, 38, 42


@dataclass(frozen=True)
class Candidate:
    piece_id: str
    collection: str
    source: str  # corpus path, or ABC text for one tune
    abc: bool


def corpus_root() -> Path:
    base = Path(os.environ.get("WORKBENCH_CORPUS_DIR", REPO / "var" / "corpus"))
    return base / f"v{CORPUS_VERSION}"


def split_of(piece_id: str) -> str:
    digest = hashlib.sha256(piece_id.encode()).digest()
    return "tune" if digest[0] % 3 == 0 else "eval"


def _abc_tunes(path: Path) -> Iterator[tuple[int, str]]:
    text = path.read_text(encoding="latin-1")
    for block in re.split(r"\n(?=X:)", "\n" + text):
        match = re.match(r"X:\s*(\d+)", block.strip())
        if match:
            yield int(match.group(1)), block.strip() + "\n"


def candidates() -> list[Candidate]:
    import music21

    root = Path(music21.__file__).parent / "corpus"
    pool: list[Candidate] = []
    for path in sorted((root / "bach").glob("bwv*.mxl")):
        pool.append(Candidate(f"bach/{path.stem}", "bach chorale", str(path), abc=False))
    for name in ESSEN_FILES:
        for number, text in _abc_tunes(root / "essenFolksong" / f"{name}.abc"):
            pool.append(Candidate(f"essen/{name}/{number}", "essen folk song", text, abc=True))
    for name in ONEILL_FILES:
        for number, text in _abc_tunes(root / "oneills1850" / f"{name}.abc"):
            pool.append(Candidate(f"oneill/{number}", "oneill irish tune", text, abc=True))
    return pool


def _region(abc_text: str) -> str | None:
    match = re.search(r"^O:\s*(.+)$", abc_text, re.MULTILINE)
    if match:
        return match.group(1).strip()
    return None


class Skip(Exception):
    """The piece's ground truth would be a guess; leave it out."""


def score_facts(cand: Candidate, rng: random.Random) -> dict[str, Any]:
    """Parse one piece and derive what the audio will contain. Raises Skip for unclear pieces."""
    from music21 import converter, key, meter

    try:
        score = (
            converter.parse(cand.source, format="abc") if cand.abc else converter.parse(cand.source)
        )
    except Exception as exc:
        raise Skip(f"unparseable: {exc.__class__.__name__}") from exc
    if hasattr(score, "scores"):  # an Opus of one
        if len(score.scores) != 1:
            raise Skip("several tunes in one block")
        score = score.scores[0]
    signatures = {ts.ratioString for ts in score.recurse().getElementsByClass(meter.TimeSignature)}
    if len(signatures) != 1:
        raise Skip(f"time signatures {sorted(signatures)}")
    metre = signatures.pop()
    if metre not in BEAT_QUARTERS:
        raise Skip(f"metre {metre}")
    key_sigs = {ks.sharps for ks in score.recurse().getElementsByClass(key.KeySignature)}
    if len(key_sigs) != 1:
        raise Skip(f"key signatures {sorted(key_sigs)}")
    try:
        score = score.expandRepeats()
    except Exception as exc:
        raise Skip(f"repeats: {exc.__class__.__name__}") from exc
    parts = list(score.parts) or [score]
    ts = meter.TimeSignature(metre)
    bar_ql = float(ts.barDuration.quarterLength)
    beat_ql = BEAT_QUARTERS[metre]

    # Beat grid from the measures of the first part; every bar must be whole beats.
    measures = list(parts[0].getElementsByClass("Measure"))
    if not measures:
        raise Skip("no measures")
    beats_ql: list[float] = []
    downbeats_ql: list[float] = []
    previous_short = False
    anchor: float | None = None
    for index, measure in enumerate(measures):
        length = float(measure.duration.quarterLength)
        if length <= 0:
            continue
        start = float(measure.offset)
        short = length < bar_ql - 1e-6
        pickup = short and (index == 0 or previous_short)
        virtual = start - (bar_ql - length) if pickup else start
        # Pickups may be part of a beat; every bar must still start on one continuous beat grid.
        anchor = virtual if anchor is None else anchor
        steps = (virtual - anchor) / beat_ql
        if abs(steps - round(steps)) > 1e-6:
            raise Skip("a bar off the beat grid")
        k = 0
        while virtual + k * beat_ql < start + length - 1e-6:
            at = virtual + k * beat_ql
            if at >= start - 1e-6:
                beats_ql.append(at)
                if k == 0:
                    downbeats_ql.append(at)
            k += 1
        previous_short = short and not pickup
    # Tonic: the lowest note sounding at the end must be the major or relative-minor tonic.
    ks = next(iter(score.recurse().getElementsByClass(key.KeySignature)))
    last_pitches = []
    for part in parts:
        notes = list(part.flatten().stripTies().notes)
        if notes:
            last_pitches.extend(notes[-1].pitches)
    if not last_pitches:
        raise Skip("no notes")
    final_pc = min(last_pitches, key=lambda p: p.ps).pitchClass
    major, minor = ks.asKey("major"), ks.asKey("minor")
    if final_pc == major.tonic.pitchClass:
        tonic, mode = major.tonic.name, "major"
    elif final_pc == minor.tonic.pitchClass:
        tonic, mode = minor.tonic.name, "minor"
    else:
        raise Skip("ends on neither the major nor the relative-minor tonic")
    tonic = tonic.replace("-", "b")  # music21 spells flats "E-"; mir_eval wants "Eb"

    compound = beat_ql == 1.5
    beat_bpm = round(
        rng.uniform(50, 100) if compound or beat_ql == 2.0 else rng.uniform(60, 150), 1
    )
    seconds_per_ql = 60.0 / (beat_bpm * beat_ql)
    voices = []
    for part in parts:
        events = []
        for n in part.flatten().stripTies().notes:
            ql = float(n.duration.quarterLength)
            if ql <= 0:
                continue  # grace notes
            events.append((float(n.offset), ql, [int(p.midi) for p in n.pitches]))
        if events:
            voices.append(events)
    if not voices:
        raise Skip("no notes")
    end_ql = max(off + dur for events in voices for off, dur, _ in events)
    return {
        "metre": metre,
        "beat_quarters": beat_ql,
        "bar_quarters": bar_ql,
        "tempo_bpm": beat_bpm,
        "seconds_per_quarter": seconds_per_ql,
        "tonic": tonic,
        "mode": mode,
        "key": f"{tonic} {mode}",
        "beats_ql": beats_ql,
        "downbeats_ql": downbeats_ql,
        "voices": voices,
        "end_ql": end_ql,
        "end_seconds": end_ql * seconds_per_ql,
    }


def _vlq(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _track(events: list[tuple[int, bytes]]) -> bytes:
    data = b""
    now = 0
    for tick, message in sorted(events, key=lambda e: (e[0], e[1][0] & 0xF0 != 0x80)):
        data += _vlq(tick - now) + message
        now = tick
    data += b"\x00\xff\x2f\x00"
    return b"MTrk" + struct.pack(">I", len(data)) + data


def write_midi(
    path: Path, facts: dict[str, Any], programs: list[int], drums: bool, rng: random.Random
) -> None:
    ppq = 480
    limit_ql = MAX_SECONDS / facts["seconds_per_quarter"]
    tempo_us = round(facts["seconds_per_quarter"] * 1e6)
    num, den = (int(x) for x in facts["metre"].split("/"))
    conductor = [
        (0, b"\xff\x51\x03" + tempo_us.to_bytes(3, "big")),
        (0, bytes([0xFF, 0x58, 0x04, num, den.bit_length() - 1, 24, 8])),
    ]
    downbeats = {round(d, 6) for d in facts["downbeats_ql"]}
    tracks = [_track(conductor)]
    channels = [c for c in range(16) if c != 9]
    for voice, program, channel in zip(facts["voices"], programs, channels, strict=False):
        events: list[tuple[int, bytes]] = [(0, bytes([0xC0 | channel, program]))]
        for offset, ql, pitches in voice:
            if offset >= limit_ql:
                continue
            # Players lean on the downbeat a little; that is part of what a listener hears.
            velocity = 80 + (12 if round(offset, 6) in downbeats else 0) + rng.randint(-5, 5)
            start, stop = round(offset * ppq), round(min(offset + ql, limit_ql) * ppq)
            for pitch in pitches:
                events.append((start, bytes([0x90 | channel, pitch, velocity])))
                events.append((max(stop - 1, start + 1), bytes([0x80 | channel, pitch, 0])))
        tracks.append(_track(events))
    if drums:
        events = []
        beat_ql = facts["beat_quarters"]
        sub = 3 if beat_ql == 1.5 else 2
        for index, at in enumerate(facts["beats_ql"]):
            if at >= limit_ql:
                break
            tick = round(at * ppq)
            is_down = round(at, 6) in downbeats
            hit = KICK if is_down or (index % 2 == 0 and beat_ql != 1.5) else SNARE
            events.append((tick, bytes([0x99, hit, 100 if hit == KICK else 88])))
            events.append((tick + 60, bytes([0x89, hit, 0])))
            for s in range(sub):
                t = round((at + s * beat_ql / sub) * ppq)
                events.append((t, bytes([0x99, HIHAT, 64 if s else 76])))
                events.append((t + 40, bytes([0x89, HIHAT, 0])))
        tracks.append(_track(events))
    header = b"MThd" + struct.pack(">IHHH", 6, 1, len(tracks), ppq)
    path.write_bytes(header + b"".join(tracks))


def render(midi: Path, flac: Path, music_seconds: float) -> float:
    import soundfile as sf

    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "out.wav"
        subprocess.run(
            ["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", str(SAMPLE_RATE), "-F", str(wav)]
            + ["-T", "wav", "-O", "s16", str(SOUNDFONT), str(midi)],
            check=True,
            capture_output=True,
        )
        data, rate = sf.read(wav, dtype="int16")
        # FluidSynth renders the release tail; keep at most one second of it.
        data = data[: int((music_seconds + 1.0) * rate)]
        sf.write(flac, data, rate, format="FLAC", subtype="PCM_16")
        return len(data) / rate


def build_piece(cand: Candidate, root: Path) -> dict[str, Any] | None:
    """Ground truth plus rendered FLAC for one candidate, from the cache when present."""
    slug = cand.piece_id.replace("/", "_")
    record_path = root / "pieces" / f"{slug}.json"
    flac = root / "audio" / f"{slug}.flac"
    if record_path.exists():
        record = json.loads(record_path.read_text())
        if record.get("skip") or flac.exists():
            return None if record.get("skip") else record
    rng = random.Random(cand.piece_id)
    try:
        facts = score_facts(cand, rng)
    except Skip as exc:
        record_path.parent.mkdir(parents=True, exist_ok=True)
        record_path.write_text(json.dumps({"piece_id": cand.piece_id, "skip": str(exc)}))
        return None
    drums = rng.random() < 0.25
    if cand.collection == "bach chorale":
        ensemble = rng.choice(sorted(CHORALE_ENSEMBLES))
        programs = list(CHORALE_ENSEMBLES[ensemble])
        instruments = [ensemble]
    else:
        name = rng.choice(sorted(MELODY_INSTRUMENTS))
        programs = [MELODY_INSTRUMENTS[name]] * 4
        instruments = [name]
    if drums:
        instruments.append("drum kit")
    flac.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        midi = Path(tmp) / "piece.mid"
        write_midi(midi, facts, programs, drums, rng)
        end = min(facts["end_seconds"], MAX_SECONDS)
        seconds = render(midi, flac, end)
    spq = facts["seconds_per_quarter"]
    record = {
        "piece_id": cand.piece_id,
        "audio": f"audio/{slug}.flac",
        "collection": cand.collection,
        "region": _region(cand.source) if cand.abc else None,
        "split": split_of(cand.piece_id),
        "tempo_bpm": facts["tempo_bpm"],
        "metre": facts["metre"],
        "key": facts["key"],
        "tonic": facts["tonic"],
        "mode": facts["mode"],
        "instruments": instruments,
        "drums": drums,
        "beats": [round(b * spq, 4) for b in facts["beats_ql"] if b * spq < end],
        "downbeats": [round(b * spq, 4) for b in facts["downbeats_ql"] if b * spq < end],
        "music_seconds": round(end, 3),
        "audio_seconds": round(seconds, 3),
    }
    record_path.parent.mkdir(parents=True, exist_ok=True)
    record_path.write_text(json.dumps(record))
    return record


def build_corpus(split: str, count: int, *, verbose: bool = False) -> Path:
    """Build (or reuse) ``count`` pieces of ``split``; returns the manifest's path.

    Pieces are drawn from the split in a fixed shuffled order, a third of each collection each
    (chorales, folk songs, Irish tunes), skipping those without clear ground truth.
    """
    root = corpus_root()
    manifest = root / f"{split}-{count}.jsonl"
    if manifest.exists():
        return manifest
    pool = [c for c in candidates() if split_of(c.piece_id) == split]
    random.Random(f"corpus-{split}").shuffle(pool)
    by_collection: dict[str, list[Candidate]] = {}
    for cand in pool:
        by_collection.setdefault(cand.collection, []).append(cand)
    collections = sorted(by_collection)
    quotas = {name: count // len(collections) for name in collections}
    for name in collections[: count - sum(quotas.values())]:
        quotas[name] += 1
    records: list[dict[str, Any]] = []
    for name in collections:
        taken = 0
        for cand in by_collection[name]:
            if taken == quotas[name]:
                break
            record = build_piece(cand, root)
            if record is not None:
                records.append(record)
                taken += 1
                if verbose:
                    print(f"{len(records):4d} {cand.piece_id} {record['key']} {record['metre']}")
    records.sort(key=lambda r: r["piece_id"])
    tmp = manifest.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in records))
    tmp.replace(manifest)
    return manifest


ASC_MUSIC = Path("/usr/share/games/asc/music")


def build_long_file(minutes: float = 32.0) -> Path:
    """A stereo 44.1 kHz FLAC of at least ``minutes``: real recordings (Debian's asc-music MP3s,
    ~17.6 minutes) played in turn until long enough; rendered eval pieces when asc-music is absent.
    Written block by block, so building it needs little memory either."""
    import soundfile as sf
    import soxr

    sources = sorted(ASC_MUSIC.glob("*.mp3"))
    kind = "asc" if sources else "rendered"
    path = corpus_root() / f"long-{kind}-{minutes:g}min.flac"
    if path.exists():
        return path
    if not sources:
        manifest = build_corpus("eval", 200)
        sources = [manifest.parent / r["audio"] for r in load_manifest(manifest)]
    target = int(minutes * 60 * SAMPLE_RATE)
    tmp = path.with_suffix(".tmp.flac")
    written = 0
    with sf.SoundFile(tmp, "w", SAMPLE_RATE, 2, format="FLAC", subtype="PCM_16") as out:
        while written < target:
            for source in sources:
                data, rate = sf.read(source, dtype="float32", always_2d=True)
                if data.shape[1] == 1:
                    data = np.repeat(data, 2, axis=1)
                if rate != SAMPLE_RATE:
                    data = soxr.resample(data, rate, SAMPLE_RATE)
                out.write(data[:, :2])
                written += len(data)
                if written >= target:
                    break
    tmp.replace(path)
    return path


def load_manifest(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=["tune", "eval"], default="eval")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--long", action="store_true", help="build the 30+ minute file instead")
    args = parser.parse_args()
    if args.long:
        print(build_long_file())
        return
    manifest = build_corpus(args.split, args.count, verbose=True)
    print(manifest)


if __name__ == "__main__":
    sys.exit(main())
