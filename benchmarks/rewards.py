"""Recomputing every reward on PostgreSQL: the product's set-based recompute vs. a naive loop.

Usage (via benchmarks/run.sh, which makes a throwaway database and migrates it):

    bash benchmarks/run.sh rewards                           # 1,000,000 generations (~50 min)
    bash benchmarks/run.sh rewards --generations 20000       # a quick check
    bash benchmarks/run.sh rewards --generations 20000 --profile /tmp/rewards.prof

What it does, in one run on one database:

1. **Build** (timed apart, not part of any measurement): N/5 songs, each with one sibling group of
   5 outputs of a think model for the caption prompt; 3 submitted reviews per output by distinct
   experts (50 of them), each with a grade for every reasoning step, the 8 verified metadata fields
   (drawn per reviewer, so reviewers of a song sometimes disagree, correct a value or are unsure),
   ranks for all 5 siblings (ties now and then, "all wrong" sometimes) and 0-3 flags (1 on average)
   on claims of the caption, minor, major or critical. The outputs are ~300 distinct texts (100
   musical profiles × 3 wordings, some with wrong tempo, key, genre or instruments; about 3 %
   malformed): a ``<think>`` of 3-6 "Step n:" lines and a 120-250-word ``<answer>`` in sections.
   Each distinct text is parsed once by ``modeling.parsing.parse_generation`` and every row that
   uses it stores the same ``parsed`` JSON, as the product stores it; nothing tells the recompute
   about the duplication, it reads rows. Rows are streamed with ``COPY`` (psycopg 3), foreign-key
   triggers off for the load session only (the rows are consistent by construction), then
   ``VACUUM ANALYZE``, so the measured runs meet a settled database rather than fresh pages.
2. **Product**: ``annotations.rewards.services.rewards.rewards_recompute(processes=2)`` over every
   generation (``--processes``; a tqdm bar on stderr): wall time, generations/s, rows written.
3. **Product again**: same call, same data: wall time; it must write 0 rows.
4. **Like for like** on a 10,000-generation random subset (``--subset``): its reward and composite
   rows are deleted and the product recomputes them in one process; they are deleted again and the
   **naive baseline** recomputes them, also in one process: per generation one query for the
   generation (with its prompt), one for its reviews, one per review for its flags, and (at a
   song's or group's first generation) one for its song's reviews (ground truth), one for its
   group's rankings and one for the group's members; the same ``modeling.rewards`` functions, with
   the product's algorithmic work (a song's ground truth and a group's Bradley–Terry fit computed
   once each, as the product does per batch); each value saved with
   ``RewardValue.objects.update_or_create`` and each profile's composite with
   ``CompositeReward.objects.update_or_create``. What a straightforward Django version does.
   The headline ratio is naive ÷ product on the subset: same rows, same process count (1), same
   work. There is no ratio at N: the naive loop is not run on all N, and the product's full pass
   (2 processes) is reported as its own throughput only.
5. **Checks**, after the table; the run exits 1 and names each one that missed: the naive values
   must equal the product's for the subset (value per (generation, function) and per (generation,
   profile)); the second full pass must write 0 rows; the product must be at least
   ``--min-speedup`` (3×) faster than the naive loop on the subset.
"""

from __future__ import annotations

import argparse
import bisect
import cProfile
import hashlib
import io
import json
import os
import pstats
import random
import re
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workbench.settings")
django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from tqdm import tqdm  # noqa: E402

from annotations.core.roles import EXPERT  # noqa: E402
from annotations.generations.models import Generation, GenerationGroup, ModelVersion, PromptTemplate  # noqa: E402
from annotations.reviews.models import ErrorCategory, Flag, Review  # noqa: E402
from annotations.rewards.models import CompositeReward, RewardProfile, RewardValue  # noqa: E402
from annotations.songs.models import Song  # noqa: E402
from benchmarks import checks  # noqa: E402
from benchmarks.review_load import ADJECTIVES, VERBS  # noqa: E402  (the same caption words)
from modeling.parsing import PARSER_VERSION, parse_generation, part_text  # noqa: E402

MODEL_NAME = "music-flamingo-think (bench rewards)"
PROMPT_NAME = "full-caption-think"
SIBLINGS = 5
REVIEWS_PER_GENERATION = 3
EXPERTS = 50
PROFILES = 100
WORDINGS = 3  # per profile: accurate, tempo/instrument errors, key/genre errors
MALFORMED_SHARE = 0.03
SEED = 6

# --- the music ------------------------------------------------------------------------------------

# (genres, culture, languages, vocals, instruments to draw from, tempo range, metres)
STYLES: list[tuple[list[str], str, list[str], list[str], list[str], tuple[int, int], list[str]]] = [
    (
        ["synth-pop", "electronic"],
        "British new wave",
        ["English"],
        ["female vocal"],
        ["drum machine", "synth bass", "synth pad", "electric piano", "synthesizer"],
        (100, 128),
        ["4/4"],
    ),
    (
        ["jazz", "bebop"],
        "African American jazz tradition",
        ["English"],
        ["male vocal"],
        ["upright bass", "piano", "trumpet", "saxophone", "drum kit"],
        (120, 220),
        ["4/4"],
    ),
    (
        ["bossa nova", "samba"],
        "Brazilian",
        ["Portuguese"],
        ["male vocal", "backing vocals"],
        ["classical guitar", "upright bass", "flute", "piano", "shaker"],
        (120, 140),
        ["4/4", "2/4"],
    ),
    (
        ["flamenco"],
        "Andalusian",
        ["Spanish"],
        ["male vocal"],
        ["classical guitar", "cajón", "palmas", "upright bass"],
        (90, 180),
        ["12/8", "3/4"],
    ),
    (
        ["reggae", "dub"],
        "Jamaican",
        ["English"],
        ["male vocal", "harmony vocals"],
        ["bass guitar", "electric guitar", "organ", "drum kit", "melodica"],
        (66, 84),
        ["4/4"],
    ),
    (
        ["k-pop", "pop"],
        "South Korean",
        ["Korean", "English"],
        ["female vocal", "rap"],
        ["drum machine", "synthesizer", "synth bass", "electric guitar", "808"],
        (96, 132),
        ["4/4"],
    ),
    (
        ["folk", "celtic"],
        "Irish",
        ["English", "Irish"],
        ["female vocal"],
        ["fiddle", "acoustic guitar", "tin whistle", "bodhrán", "accordion"],
        (90, 150),
        ["6/8", "3/4", "4/4"],
    ),
    (
        ["afrobeat", "highlife"],
        "Nigerian",
        ["Yoruba", "English"],
        ["male vocal", "backing vocals"],
        ["electric guitar", "bass guitar", "drum kit", "saxophone", "trumpet", "shekere"],
        (100, 126),
        ["4/4"],
    ),
    (
        ["hip hop", "trap"],
        "American",
        ["English"],
        ["rap"],
        ["808", "drum machine", "synth pad", "piano", "sampler"],
        (70, 150),
        ["4/4"],
    ),
    (
        ["tango"],
        "Rioplatense",
        ["Spanish"],
        ["male vocal"],
        ["bandoneon", "violin", "piano", "upright bass"],
        (60, 120),
        ["4/4", "2/4"],
    ),
    (
        ["classical", "romantic"],
        "Western art music",
        [],
        ["instrumental"],
        ["piano", "violin", "cello", "string section", "flute"],
        (50, 140),
        ["3/4", "4/4", "6/8"],
    ),
    (
        ["house", "techno"],
        "Detroit and Chicago club culture",
        [],
        ["instrumental"],
        ["drum machine", "synth bass", "synthesizer", "synth pad"],
        (120, 132),
        ["4/4"],
    ),
]
TONICS = ["C", "G", "D", "A", "E", "B", "F#", "Db", "Ab", "Eb", "Bb", "F"]
RELATIVE = {t: TONICS[(i + 3) % 12] for i, t in enumerate(TONICS)}  # a major key's relative minor
OBJECTS = [
    "the main riff",
    "the vocal line",
    "the offbeats",
    "the bass ostinato",
    "the call-and-response phrases",
    "the turnaround",
    "the cadence of each phrase",
    "the chorus hook",
    "the descending line",
    "the groove",
]
SECTION_NAMES = [
    "intro",
    "first verse",
    "chorus",
    "second verse",
    "bridge",
    "final chorus",
    "outro",
]
STEP_GRADES = ["correct"] * 7 + ["incorrect"] * 2 + ["unverifiable"]
SEVERITIES = ["minor"] * 5 + ["major"] * 4 + ["critical"]


@dataclass(frozen=True)
class Profile:
    """What a song really is; the texts of a profile describe it more or less accurately."""

    genres: list[str]
    culture: str
    languages: list[str]
    vocals: list[str]
    instruments: list[str]
    tempo: int
    key: str
    meter: str


def _profiles(rng: random.Random) -> list[Profile]:
    profiles = []
    for i in range(PROFILES):
        genres, culture, languages, vocals, pool, (low, high), meters = STYLES[i % len(STYLES)]
        tonic = rng.choice(TONICS)
        mode = rng.choice(["major", "minor"])
        profiles.append(
            Profile(
                genres=genres,
                culture=culture,
                languages=languages,
                vocals=vocals,
                instruments=rng.sample(pool, min(len(pool), rng.randint(3, 5))),
                tempo=rng.randint(low, high),
                key=f"{RELATIVE[tonic] if mode == 'minor' else tonic} {mode}",
                meter=rng.choice(meters),
            )
        )
    return profiles


def _stamp(seconds: int) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}"


def _filler(rng: random.Random, instruments: list[str]) -> str:
    a = rng.choice(instruments)
    return (
        f"The {rng.choice(ADJECTIVES)} {a} {rng.choice(VERBS)} {rng.choice(OBJECTS)} and keeps "
        f"the texture {rng.choice(ADJECTIVES)}."
    )


def _text(profile: Profile, wording: int, rng: random.Random) -> str:
    """One Music Flamingo think output for a profile: wording 0 is accurate, 1 gets the tempo and
    an instrument wrong, 2 the key and a genre."""
    tempo, key, genres = profile.tempo, profile.key, list(profile.genres)
    instruments = list(profile.instruments)
    if wording == 1:
        tempo = tempo * 2 if rng.random() < 0.4 else round(tempo * rng.choice([0.85, 1.12]))
        instruments[-1] = rng.choice(["sitar", "harp", "banjo", "tabla", "trombone"])
    elif wording == 2:
        tonic, mode = key.split()
        key = f"{tonic} {'minor' if mode == 'major' else 'major'}"
        genres[0] = rng.choice(["rock", "funk", "ambient", "country", "soul"])
    stamps = sorted(rng.sample(range(8, 240), 5))
    steps = [
        f"The pulse is steady; counting against the hi-hat gives about {tempo} BPM in {profile.meter}.",
        f"The bass keeps returning to {key.split()[0]}, and the chords suggest {key}.",
        f"I hear {', '.join(instruments[:-1])} and {instruments[-1]}.",
        f"The style points to {genres[0]} with {profile.culture} roots.",
        f"A new section starts at {_stamp(stamps[1])} where the texture thickens.",
        f"The {profile.vocals[0]} carries the melody."
        if profile.vocals != ["instrumental"]
        else "There is no voice; the lead line is instrumental.",
    ]
    steps = steps[: rng.randint(3, 6)]
    think = "\n".join(f"Step {n}: {s}" for n, s in enumerate(steps, 1))
    extra = rng.randint(0, 5)  # filler sentences: captions of 120-250 words
    fill = [_filler(rng, instruments) for _ in range(extra + 4)]
    vocals = (
        "The piece is entirely instrumental."
        if profile.vocals == ["instrumental"]
        else f"A {' and '.join(profile.vocals)} "
        + (f"sings in {' and '.join(profile.languages)}" if profile.languages else "carries it")
        + ", phrased in call and response."
    )
    marks = ", ".join(
        f"the {label} at {_stamp(at)}" for label, at in zip(SECTION_NAMES[1:], stamps, strict=False)
    )
    sections = [
        (
            "Genre & Style",
            f"A {' and '.join(genres)} piece rooted in {profile.culture} music. {fill[0]}",
        ),
        (
            "Instrumentation",
            f"The arrangement uses {', '.join(instruments[:-1])} and {instruments[-1]}. {fill[1]} {fill[2]}",
        ),
        (
            "Harmony",
            f"The song is in {key} and leans on a four-chord cycle with a plagal turn. {fill[3]}",
        ),
        (
            "Tempo & Metre",
            f"The groove sits at around {tempo} BPM in {profile.meter}, with a {rng.choice(ADJECTIVES)} backbeat.",
        ),
        ("Structure", f"After the intro, the form unfolds with {marks}. " + " ".join(fill[4:])),
        ("Vocals", vocals),
    ]
    style = rng.choice(["**{}:** ", "## {}\n"])
    answer = "\n\n".join(style.format(h) + body for h, body in sections)
    return f"<think>\n{think}\n</think>\n<answer>\n{answer}\n</answer>"


def _malformed(text: str, rng: random.Random) -> str:
    how = rng.randrange(4)
    if how == 0:  # cut off at the token limit
        return text[: int(len(text) * 0.8)]
    if how == 1:  # no think block
        return text[text.index("<answer>") :]
    if how == 2:  # answer before the reasoning
        think, answer = text.split("</think>\n")
        return f"{answer}\n{think}</think>"
    return text.replace("</think>", "")  # unclosed think


@dataclass(frozen=True)
class Text:
    profile: int
    wording: int
    row: str  # raw_text, think_text, answer_text and parsed, COPY-escaped and tab-joined
    steps: int
    spans: list[tuple[int, int, str, int]]  # (start, end, quoted text, category) in answer_text
    well_formed: bool
    quality: float  # what the experts' ranks lean on


def _texts(profiles: list[Profile], rng: random.Random) -> list[Text]:
    categories = dict(ErrorCategory.objects.values_list("code", "pk"))
    by_claim = {
        "instruments": categories["instrument-not-present"],
        "tempo_bpm": categories["wrong-tempo-meter"],
        "meter": categories["wrong-tempo-meter"],
        "key": categories["wrong-key-mode"],
        "genres": categories["genre-mislabel"],
        "sections": categories["wrong-structure-timestamps"],
        "vocals": categories["wrong-vocal-description"],
    }
    texts = []
    for p, profile in enumerate(profiles):
        for wording in range(WORDINGS):
            raw = _text(profile, wording, rng)
            if rng.random() < MALFORMED_SHARE * 1.5:  # some fall back to a well-formed text
                raw = _malformed(raw, rng)
            parsed = parse_generation(raw)
            think, answer = part_text(raw, parsed, "think"), part_text(raw, parsed, "answer")
            offset = (parsed["answer"] or {}).get("start", 0)
            spans = []
            for name, category in by_claim.items():
                found = parsed["claims"].get(name)
                for claim in found if isinstance(found, list) else [found] if found else []:
                    start, end = claim["start"] - offset, claim["end"] - offset
                    if 0 <= start < end <= len(answer):
                        spans.append((start, end, answer[start:end], category))
            if not spans:  # a text without claims in its answer: flag its first words
                spans.append(
                    (
                        0,
                        min(20, len(answer)) or 1,
                        answer[:20] or " ",
                        categories["reasoning-unsupported"],
                    )
                )
            texts.append(
                Text(
                    profile=p,
                    wording=wording,
                    row="\t".join(
                        _escape(v)
                        for v in (raw, think, answer, json.dumps(parsed, ensure_ascii=False))
                    ),
                    steps=len(parsed["steps"]),
                    spans=spans,
                    well_formed=bool(parsed["well_formed"]),
                    quality=float(bool(parsed["well_formed"])) + (wording == 0) * 0.5,
                )
            )
    return texts


def _escape(value: str) -> str:
    """A value in COPY's text format."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def _entry(value: Any, status: str) -> str:
    return json.dumps({"value": value, "status": status, "source": "expert"}, ensure_ascii=False)


def _verified_pool(profile: Profile, rng: random.Random) -> list[tuple[list[float], list[str]]]:
    """Per metadata field: cumulative weights and the JSON fragments a reviewer may store."""
    tonic, mode = profile.key.split()
    other_mode = f"{tonic} {'minor' if mode == 'major' else 'major'}"
    fifth = f"{TONICS[(TONICS.index(tonic) + 1) % 12] if tonic in TONICS else tonic} {mode}"
    unsure = _entry(None, "unsure")
    choices: dict[str, list[tuple[float, str]]] = {
        "tempo_bpm": [
            (0.72, _entry(float(profile.tempo), "confirmed")),
            (0.10, _entry(float(profile.tempo + rng.choice([-2, -1, 1, 2])), "corrected")),
            (0.06, _entry(float(profile.tempo * 2), "corrected")),
            (0.12, unsure),
        ],
        "key": [
            (0.74, _entry(profile.key, "confirmed")),
            (0.08, _entry(other_mode, "corrected")),
            (0.06, _entry(fifth, "corrected")),
            (0.12, unsure),
        ],
        "meter": [
            (0.86, _entry(profile.meter, "confirmed")),
            (0.06, _entry("6/8" if profile.meter != "6/8" else "3/4", "corrected")),
            (0.08, unsure),
        ],
        "genres": [
            (0.70, _entry(profile.genres, "confirmed")),
            (0.20, _entry(profile.genres[:1] + ["world"], "corrected")),
            (0.10, unsure),
        ],
        "instruments": [
            (0.60, _entry(profile.instruments, "confirmed")),
            (0.20, _entry(profile.instruments[:-1], "corrected")),
            (0.15, _entry([*profile.instruments, "shaker"], "corrected")),
            (0.05, unsure),
        ],
        "vocals": [
            (0.80, _entry(profile.vocals, "confirmed")),
            (0.15, _entry(profile.vocals[:1] + ["choir"], "corrected")),
            (0.05, unsure),
        ],
        "languages": [
            (0.85, _entry(profile.languages or ["none"], "confirmed")),
            (0.10, _entry((profile.languages or ["none"])[:1] + ["Spanish"], "corrected")),
            (0.05, unsure),
        ],
        "culture": [
            (0.85, _entry(profile.culture, "confirmed")),
            (0.10, _entry(f"{profile.culture} diaspora", "corrected")),
            (0.05, unsure),
        ],
    }
    pool = []
    for field, options in choices.items():
        cumulative, total = [], 0.0
        for weight, _ in options:
            total += weight
            cumulative.append(total)
        pool.append((cumulative, [_escape(f'"{field}": {json}') for _, json in options]))
    return pool


# --- building ---------------------------------------------------------------------------------------


@dataclass
class Built:
    songs: int
    generations: int
    reviews: int
    flags: int
    texts: int
    malformed: int
    seconds: float


def _next_id(model: Any) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {model._meta.db_table}")  # noqa: S608 (a model's table)
        return int(cursor.fetchone()[0])


def _copy(table: str, columns: Sequence[str], lines: Iterator[str]) -> None:
    """Stream tab-separated lines into ``table`` with COPY, in ~4 MB writes."""
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.copy(sql) as copy:
        chunk: list[str] = []
        size = 0
        for line in lines:
            chunk.append(line)
            size += len(line)
            if size > 4_000_000:
                copy.write("\n".join(chunk) + "\n")
                chunk, size = [], 0
        if chunk:
            copy.write("\n".join(chunk) + "\n")


def build(n: int, *, max_flags: int | None = None) -> Built:
    """Songs, sibling groups, generations, reviews and flags; set-based, with COPY.

    ``max_flags`` stops writing flags once that many are written (the random draws go on as
    without it, so the rows before the cap are the same): an exact flag count for a benchmark."""
    started = time.perf_counter()
    rng = random.Random(SEED)
    if n % SIBLINGS:
        raise SystemExit(f"--generations must be a multiple of {SIBLINGS}")
    version, _ = ModelVersion.objects.get_or_create(
        name=MODEL_NAME,
        defaults={
            "variant": ModelVersion.Variant.THINK,
            "checkpoint_uri": "nvidia/music-flamingo-think-2601-hf",
        },
    )
    prompt = PromptTemplate.objects.filter(name=PROMPT_NAME).order_by("-version").first()
    assert prompt is not None, "the migration-seeded prompt library is missing"
    expert_group = Group.objects.get(name=EXPERT)
    password = make_password("bench-rewards")  # one hash for all: hashing is slow by design
    experts = list(
        User.objects.bulk_create(
            User(username=f"bench-rewards-expert-{i:02d}", password=password)
            for i in range(EXPERTS)
        )
    )
    expert_group.user_set.add(*experts)
    expert_ids = [u.pk for u in experts]
    profiles = _profiles(rng)
    texts = _texts(profiles, rng)
    pools = [_verified_pool(p, rng) for p in profiles]
    by_profile: dict[int, list[int]] = defaultdict(list)
    for t, text in enumerate(texts):
        by_profile[text.profile].append(t)

    songs = n // SIBLINGS
    song0, group0, gen0 = _next_id(Song), _next_id(GenerationGroup), _next_id(Generation)
    review0, flag0 = _next_id(Review), _next_id(Flag)
    now = timezone.now().isoformat()
    # Which profile each song is, and which text each of its outputs says: mostly a wording of
    # the song's own profile, sometimes another song's text altogether.
    song_profile = [rng.randrange(PROFILES) for _ in range(songs)]
    gen_text = [
        rng.choice(by_profile[song_profile[g // SIBLINGS]])
        if rng.random() < 0.85
        else rng.randrange(len(texts))
        for g in range(n)
    ]

    with connection.cursor() as cursor:
        # This session only: the rows are consistent by construction, so skip per-row FK triggers
        # and do not wait for the WAL flush on commit (a crash loses a throwaway database).
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("SET synchronous_commit = off")

    _copy(
        Song._meta.db_table,
        [
            "id",
            "created_at",
            "updated_at",
            "title",
            "artist",
            "album",
            "year",
            "licence",
            "source",
            "tags",
            "status",
        ],
        (
            f"{song0 + s}\t{now}\t{now}\tBench song {s:07d}\tBench artist {s % 997}\t\t"
            f'{1950 + s % 75}\t\t\t["bench"]\tready'
            for s in range(songs)
        ),
    )
    _copy(
        GenerationGroup._meta.db_table,
        ["id", "created_at", "updated_at", "size", "model_version_id", "prompt_id", "song_id"],
        (
            f"{group0 + s}\t{now}\t{now}\t{SIBLINGS}\t{version.pk}\t{prompt.pk}\t{song0 + s}"
            for s in range(songs)
        ),
    )
    decoding = _escape(
        json.dumps({"max_new_tokens": 2048, "temperature": 0.7, "top_p": 0.95, "do_sample": True})
    )
    _copy(
        Generation._meta.db_table,
        [
            "id",
            "created_at",
            "updated_at",
            "sibling_index",
            "decoding",
            "seed",
            "status",
            "error",
            "raw_text",
            "think_text",
            "answer_text",
            "parsed",
            "timings",
            "celery_task_id",
            "finished_at",
            "group_id",
            "model_version_id",
            "prompt_id",
            "song_id",
            "audio_heard",
            "review_complete",
        ],
        tqdm(
            (
                f"{gen0 + g}\t{now}\t{now}\t{g % SIBLINGS}\t{decoding}\t{g}\tsucceeded\t\t"
                f"{texts[gen_text[g]].row}\t{{}}\t\t{now}\t{group0 + g // SIBLINGS}\t{version.pk}\t"
                f"{prompt.pk}\t{song0 + g // SIBLINGS}\t{{}}\ttrue"
                for g in range(n)
            ),
            total=n,
            desc="generations",
            unit="row",
            mininterval=2,
            file=sys.stderr,
        ),
    )

    flags: list[str] = []
    counts = {"reviews": 0, "flags": 0}

    def reviews() -> Iterator[str]:
        review_id, flag_id = review0, flag0
        flag_count = [0] * 4 + [1] * 3 + [2] * 2 + [3]  # mean 1 per review
        for s in range(songs):
            pool = pools[song_profile[s]]
            members = range(s * SIBLINGS, (s + 1) * SIBLINGS)
            quality = [texts[gen_text[g]].quality for g in members]
            for g in members:
                text = texts[gen_text[g]]
                for expert in rng.sample(expert_ids, REVIEWS_PER_GENERATION):
                    verified = (
                        "{"
                        + ", ".join(
                            options[bisect.bisect(cumulative, rng.random() * cumulative[-1])]
                            for cumulative, options in pool
                        )
                        + "}"
                    )
                    grades = (
                        "{"
                        + ", ".join(
                            f'"{step}": "{rng.choice(STEP_GRADES)}"'
                            for step in range(1, text.steps + 1)
                        )
                        + "}"
                    )
                    all_wrong = rng.random() < 0.04
                    if all_wrong:
                        ranks = "{}"
                    else:
                        order = sorted(
                            range(SIBLINGS), key=lambda i: -(quality[i] + rng.random() * 1.5)
                        )
                        rank, values = 1, [0] * SIBLINGS
                        for position, i in enumerate(order):
                            tie = position > 0 and rng.random() < 0.1  # same rank as the one above
                            rank = rank if tie else position + 1
                            values[i] = rank
                        ranks = (
                            "{"
                            + ", ".join(f'"{gen0 + m}": {values[i]}' for i, m in enumerate(members))
                            + "}"
                        )
                    verdict = rng.choice(
                        ["accept", "accept_with_fixes", "accept_with_fixes", "reject"]
                    )
                    yield (
                        f"{review_id}\t{now}\t{now}\tsubmitted\t{rng.randint(2, 6)}\t{verdict}\t\t\t"
                        f"{now}\t{expert}\t{gen0 + g}\t{{}}\t[]\t{ranks}\t"
                        f"{'true' if all_wrong else 'false'}\t\t\t{grades}\t{verified}"
                    )
                    for _ in range(rng.choice(flag_count)):
                        start, end, quoted, category = rng.choice(text.spans)
                        severity = rng.choice(SEVERITIES)
                        if max_flags is not None and flag_id - flag0 >= max_flags:
                            continue
                        flags.append(
                            f"{flag_id}\t{now}\t{now}\tcaption\t{start}\t{end}\t{_escape(quoted)}\t"
                            f"{severity}\t\t\t{category}\t{review_id}"
                        )
                        flag_id += 1
                    review_id += 1
        counts["reviews"] = review_id - review0
        counts["flags"] = flag_id - flag0

    _copy(
        Review._meta.db_table,
        [
            "id",
            "created_at",
            "updated_at",
            "status",
            "version",
            "verdict",
            "comment",
            "corrected_caption",
            "submitted_at",
            "expert_id",
            "generation_id",
            "aspect_ratings",
            "dismissed_hints",
            "sibling_ranks",
            "siblings_all_wrong",
            "skip_note",
            "skip_reason",
            "step_grades",
            "verified_metadata",
        ],
        tqdm(
            reviews(),
            total=n * REVIEWS_PER_GENERATION,
            desc="reviews",
            unit="row",
            mininterval=2,
            file=sys.stderr,
        ),
    )
    _copy(
        Flag._meta.db_table,
        [
            "id",
            "created_at",
            "updated_at",
            "target",
            "start_char",
            "end_char",
            "quoted_text",
            "severity",
            "correction",
            "note",
            "category_id",
            "review_id",
        ],
        iter(flags),
    )
    flags.clear()
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = DEFAULT")
        for model in (Song, GenerationGroup, Generation, Review, Flag):
            table = model._meta.db_table
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"  # noqa: S608 (a model's table)
            )
        for model in (Song, GenerationGroup, Generation, Review, Flag, User):
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
    return Built(
        songs=songs,
        generations=n,
        reviews=counts["reviews"],
        flags=counts["flags"],
        texts=len(texts),
        malformed=sum(1 for t in texts if not t.well_formed),
        seconds=time.perf_counter() - started,
    )


# --- the naive baseline ---------------------------------------------------------------------------


def _naive_hash(value: float, details: Any, provenance: Any) -> str:
    payload = json.dumps([value, details, provenance], sort_keys=True, default=str)
    return hashlib.md5(payload.encode(), usedforsecurity=False).hexdigest()


def naive_recompute(generation_ids: Sequence[int]) -> dict[tuple[int, str], float]:
    """One generation at a time, the way a first Django version would write it: per-row queries
    and ``update_or_create``. It does the product's algorithmic work, no more: a song's ground
    truth is computed once (at its first generation) and a sibling group's Bradley–Terry fit once
    (at its first ranked member), as the product does per batch; so the ratio measures the data
    access, not repeated arithmetic."""
    from modeling.rewards import REWARDS
    from modeling.rewards.ground_truth import ground_truth

    profiles = list(RewardProfile.objects.filter(is_active=True))
    values: dict[tuple[int, str], float] = {}
    truth_by_song: dict[int, tuple[dict[str, Any], dict[str, Any], list[list[int]]]] = {}
    preference_by_group: dict[int, tuple[dict[str, Any], list[list[int]]]] = {}
    for gid in tqdm(generation_ids, desc="naive", unit="gen", mininterval=2, file=sys.stderr):
        generation = Generation.objects.select_related("prompt").get(pk=gid)
        raw = generation.raw_text
        reviews = []
        for review in Review.objects.filter(
            generation=generation, status=Review.Status.SUBMITTED
        ).order_by("pk"):
            flags = [
                {
                    "id": flag.pk,
                    "severity": flag.severity,
                    "target": flag.target,
                    "category": flag.category.code,
                    "quoted_text": flag.quoted_text,
                }
                for flag in Flag.objects.filter(review=review)
                .select_related("category")
                .order_by("pk")
            ]
            reviews.append(
                {
                    "id": review.pk,
                    "version": review.version,
                    "step_grades": review.step_grades or {},
                    "flags": flags,
                }
            )
        if generation.song_id not in truth_by_song:
            song_reviews = list(
                Review.objects.filter(
                    generation__song_id=generation.song_id, status=Review.Status.SUBMITTED
                ).order_by("pk")
            )
            verified = [(r.pk, r.verified_metadata) for r in song_reviews if r.verified_metadata]
            truth_by_song[generation.song_id] = (
                *ground_truth(verified),
                [[r.pk, r.version] for r in song_reviews if r.verified_metadata],
            )
        metadata, agreements, song_refs = truth_by_song[generation.song_id]
        review_refs = [[r["id"], r["version"]] for r in reviews]

        scored: list[tuple[str, Any, dict[str, Any]]] = [
            ("format", REWARDS["format"].score(raw), {})
        ]
        prompt = generation.prompt
        if prompt.answer_field:
            if metadata.get(prompt.answer_field) not in (None, "", []):
                gold = metadata[prompt.answer_field]
                gold_text = (
                    ", ".join(str(v) for v in gold)
                    if isinstance(gold, list)
                    else f"{gold:g}"
                    if isinstance(gold, float)
                    else str(gold)
                )
                scored.append(
                    (
                        "accuracy",
                        REWARDS["accuracy"].score(raw, gold_text, prompt.answer_options or None),
                        {"reviews": song_refs},
                    )
                )
        elif metadata:
            parsed = generation.parsed or {}
            claims = (
                parsed.get("claims") if parsed.get("parser_version") == PARSER_VERSION else None
            )
            scored.append(
                (
                    "structured_thinking",
                    REWARDS["structured_thinking"].score(raw, metadata, claims),
                    {"reviews": song_refs, "metadata": {k: str(v) for k, v in agreements.items()}},
                )
            )
        if reviews:
            scored.append(
                (
                    "hallucination_penalty",
                    REWARDS["hallucination_penalty"].score(raw, reviews),
                    {"reviews": review_refs},
                )
            )
            scored.append(
                (
                    "step_validity",
                    REWARDS["step_validity"].score(raw, reviews),
                    {"reviews": review_refs},
                )
            )
        if generation.group_id is not None:
            if generation.group_id not in preference_by_group:
                rankings = [
                    {
                        "review": r.pk,
                        "version": r.version,
                        "ranks": r.sibling_ranks or {},
                        "all_wrong": r.siblings_all_wrong,
                    }
                    for r in Review.objects.filter(
                        generation__group_id=generation.group_id, status=Review.Status.SUBMITTED
                    ).order_by("pk")
                    if r.sibling_ranks or r.siblings_all_wrong
                ]
                members = list(
                    Generation.objects.filter(group_id=generation.group_id)
                    .order_by("sibling_index", "pk")
                    .values_list("pk", flat=True)
                )
                preference_by_group[generation.group_id] = (
                    REWARDS["preference"].score(members, rankings) if rankings else {},
                    [[r["review"], r["version"]] for r in rankings],
                )
            group_scores, ranking_refs = preference_by_group[generation.group_id]
            if ranking_refs:
                scored.append(("preference", group_scores.get(str(gid)), {"reviews": ranking_refs}))

        mine: dict[str, float] = {}
        for name, score, provenance in scored:
            if score is None or score.value is None:
                continue
            value = float(score.value)
            mine[name] = value
            values[(gid, name)] = value
            RewardValue.objects.update_or_create(
                generation=generation,
                function=name,
                function_version=REWARDS[name].version,
                defaults={
                    "model_version_id": generation.model_version_id,
                    "value": value,
                    "details": score.details,
                    "provenance": provenance,
                    "inputs_hash": _naive_hash(value, score.details, provenance),
                    "computed_at": timezone.now(),
                },
            )
        for profile in profiles:
            parts = [float(w) * mine[f] for f, w in sorted(profile.weights.items()) if f in mine]
            if not parts:
                CompositeReward.objects.filter(generation=generation, profile=profile).delete()
                continue
            total = sum(parts)
            values[(gid, f"profile:{profile.pk}")] = total
            CompositeReward.objects.update_or_create(
                generation=generation,
                profile=profile,
                defaults={
                    "model_version_id": generation.model_version_id,
                    "value": total,
                    "computed_at": timezone.now(),
                },
            )
    return values


# --- measuring ------------------------------------------------------------------------------------


def stored_values(generation_ids: Sequence[int]) -> dict[tuple[int, str], float]:
    values: dict[tuple[int, str], float] = {}
    for gid, function, value in RewardValue.objects.filter(
        generation_id__in=generation_ids
    ).values_list("generation_id", "function", "value"):
        values[(gid, function)] = value
    for gid, profile_id, value in CompositeReward.objects.filter(
        generation_id__in=generation_ids
    ).values_list("generation_id", "profile_id", "value"):
        values[(gid, f"profile:{profile_id}")] = value
    return values


def compare(
    product: dict[tuple[int, str], float], naive: dict[tuple[int, str], float]
) -> list[str]:
    problems = []
    for key in sorted(product.keys() | naive.keys()):
        a, b = product.get(key), naive.get(key)
        if a is None or b is None or abs(a - b) > 1e-9:
            problems.append(f"generation {key[0]} {key[1]}: product {a} naive {b}")
    return problems


class Queries:
    """Counts the statements a block sends and the time each kind waits for the database (an
    execute wrapper: next to nothing per query). The rest of the wall time is Python's."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            kind = _statement_kind(sql)
            self.seconds[kind] += time.perf_counter() - started
            self.calls[kind] += 1

    def report(self, wall: float) -> str:
        waited = sum(self.seconds.values())
        lines = [
            f"  database {waited:.1f} s ({waited / wall:.0%} of the wall time), "
            f"Python {wall - waited:.1f} s"
        ]
        for kind, seconds in sorted(self.seconds.items(), key=lambda item: -item[1])[:8]:
            lines.append(f"    {seconds:8.1f} s  {self.calls[kind]:6,} × {kind}")
        return "\n".join(lines)


def _statement_kind(sql: str) -> str:
    """The verb and first table of a statement: "INSERT annotations_rewardvalue"."""
    verb = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "?"
    table = re.search(r"annotations_\w+|auth_\w+", sql)
    return f"{verb} {table.group(0)}" if table else " ".join(sql.split())[:40]


def run_product(
    label: str,
    profile_path: str | None = None,
    processes: int = 1,
    generation_ids: Sequence[int] | None = None,
) -> tuple[float, Any, Queries]:
    from annotations.rewards.services.rewards import rewards_recompute

    bar = tqdm(total=None, desc=label, unit="gen", mininterval=2, file=sys.stderr)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    queries = Queries()
    profiler = cProfile.Profile() if profile_path else None
    with connection.execute_wrapper(queries):
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        stats = rewards_recompute(
            generation_ids=generation_ids, on_progress=progress, processes=processes
        )
        if profiler:
            profiler.disable()
        seconds = time.perf_counter() - started
    bar.close()
    if profiler and profile_path:
        profiler.dump_stats(profile_path)
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
        print(out.getvalue())
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
        print(out.getvalue())
    return seconds, stats, queries


def measured_code(
    paths: Sequence[str] = ("annotations/rewards", "modeling", "benchmarks/rewards.py"),
) -> str:
    """The commit whose code this run measures, and which of ``paths`` differ from it."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(
            ["git", "-C", root, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            [
                "git",
                "-C",
                root,
                "status",
                "--porcelain",
                "--",
                *paths,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    edited = [line[3:] for line in changed]
    return head + (f" with uncommitted {', '.join(edited)}" if edited else "")


def table_sizes() -> dict[str, int]:
    sizes = {}
    with connection.cursor() as cursor:
        for model in (RewardValue, CompositeReward):
            table = model._meta.db_table
            cursor.execute("SELECT pg_total_relation_size(%s)", [table])
            sizes[table] = int(cursor.fetchone()[0])
    return sizes


def _mib(size: int) -> str:
    return f"{size / 2**20:,.0f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--generations", type=int, default=1_000_000)
    parser.add_argument("--subset", type=int, default=10_000)
    parser.add_argument("--profile", help="write a cProfile of the first product run here")
    parser.add_argument(
        "--processes",
        type=int,
        default=2,
        help="processes for the product's full passes (recompute_rewards --processes); the "
        "subset comparison always runs both sides in one process",
    )
    parser.add_argument(
        "--min-speedup",
        type=float,
        default=3.0,
        help="target: naive ÷ product time on the subset, both in one process",
    )
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("rewards needs PostgreSQL (bash benchmarks/run.sh rewards)")
    n, subset_size = args.generations, min(args.subset, args.generations)

    code = measured_code()
    print(
        f"rewards: {n:,} generations, {REVIEWS_PER_GENERATION} reviews each (PostgreSQL), "
        f"code {code}",
        flush=True,
    )
    built = build(n)
    print(
        f"built in {built.seconds:.0f} s: {built.songs:,} songs × {SIBLINGS} siblings, "
        f"{built.reviews:,} reviews, {built.flags:,} flags, {built.texts} distinct texts "
        f"({built.malformed} malformed)",
        flush=True,
    )

    processes = args.processes
    product_s, stats, product_db = run_product("product", args.profile, processes)
    product_queries = product_db.count  # the parent's only, when processes > 1
    print(f"product: {product_s:.1f} s, {stats}, {product_queries:,} queries", flush=True)
    if processes == 1:
        print(product_db.report(product_s), flush=True)
    again_s, again, _ = run_product("product again", processes=processes)
    print(f"product again: {again_s:.1f} s, {again}", flush=True)

    ids = sorted(
        random.Random(SEED).sample(
            list(
                Generation.objects.filter(model_version__name=MODEL_NAME).values_list(
                    "pk", flat=True
                )
            ),
            subset_size,
        )
    )
    product_values = stored_values(ids)
    # Like for like on the subset: the product in one process, then the naive loop, each
    # writing every row afresh.
    RewardValue.objects.filter(generation_id__in=ids).delete()
    CompositeReward.objects.filter(generation_id__in=ids).delete()
    subset_s, subset_stats, subset_db = run_product("product, subset", generation_ids=ids)
    print(f"product on the subset, 1 process: {subset_s:.1f} s, {subset_stats}", flush=True)
    print(subset_db.report(subset_s), flush=True)
    RewardValue.objects.filter(generation_id__in=ids).delete()
    CompositeReward.objects.filter(generation_id__in=ids).delete()
    queries = Queries()
    with connection.execute_wrapper(queries):
        started = time.perf_counter()
        naive_values = naive_recompute(ids)
        naive_s = time.perf_counter() - started
    print(f"naive: {naive_s:.1f} s, {queries.count:,} queries", flush=True)
    print(queries.report(naive_s), flush=True)
    problems = compare(product_values, naive_values)
    sizes = table_sizes()

    speedup = naive_s / subset_s
    rows = [
        ("code measured", code),
        ("generations (N)", f"{n:,}"),
        ("songs / sibling groups", f"{built.songs:,} × {SIBLINGS}"),
        ("reviews (submitted)", f"{built.reviews:,}"),
        ("flags", f"{built.flags:,}"),
        ("distinct texts (malformed)", f"{built.texts} ({built.malformed})"),
        ("build time (not measured)", f"{built.seconds:,.0f} s"),
        (
            f"product: recompute all N ({processes} process{'es' if processes > 1 else ''}; "
            "no baseline at N)",
            f"{product_s:,.1f} s  ({n / product_s:,.0f} generations/s)",
        ),
        ("product: per 1,000 generations, all N", f"{product_s / n * 1000:.3f} s"),
        (
            "product: rows written",
            f"{stats.written:,} values + {stats.composites_written:,} composites",
        ),
        ("product again (idempotent)", f"{again_s:,.1f} s"),
        (
            "product again: rows written",
            f"{again.written} values + {again.composites_written} composites",
        ),
        (
            f"product on the {subset_size:,} subset, 1 process",
            f"{subset_s:,.1f} s  ({subset_size / subset_s:,.0f} generations/s, "
            f"{subset_db.count:,} queries)",
        ),
        (
            f"naive on the {subset_size:,} subset, 1 process",
            f"{naive_s:,.1f} s  ({subset_size / naive_s:,.0f} generations/s, "
            f"{queries.count / subset_size:.1f} queries per generation)",
        ),
        (
            "speed-up, like for like (subset, 1 process each, same work)",
            f"{speedup:.1f}×  (target ≥ {args.min_speedup:g}×)",
        ),
        (
            "same values: naive vs product on subset",
            "yes" if not problems else f"NO ({len(problems)} differ)",
        ),
        *((f"size of {table}", _mib(size)) for table, size in sizes.items()),
    ]
    width = max(len(label) for label, _ in rows)
    print()
    print(f"| {'rewards recompute':{width}} | {'figure':>10}")
    print(f"|{'-' * (width + 2)}|{'-' * 12}")
    for label, value in rows:
        print(f"| {label:{width}} | {value}")
    print(f"same values: {'yes' if not problems else 'no'}")
    if problems:
        print("\n".join(problems[:20]))

    missed = []
    if problems:
        missed.append(f"same values: {len(problems)} values differ between naive and product")
    if again.written or again.composites_written:
        missed.append(
            f"idempotence: the second recompute wrote {again.written} values and "
            f"{again.composites_written} composites (must be 0)"
        )
    if speedup < args.min_speedup:
        missed.append(
            f"speed-up: the product is {speedup:.2f}× the naive loop on the subset "
            f"(target ≥ {args.min_speedup:g}×)"
        )
    checks.finish(missed)


if __name__ == "__main__":
    main()
