"""The review workspace under load: 16 experts at once against the real server on PostgreSQL.

Usage (via benchmarks/run.sh, which makes a throwaway database and migrates it; about 4 minutes):

    bash benchmarks/run.sh review_load                       # 10,000 generations, 16 experts
    bash benchmarks/run.sh review_load --processes 2 --paced-seconds 60 --flat-seconds 30

What it does, in one run:

1. **Seed** (set-based, ``bulk_create``; under a minute): songs with genres, cultures, languages,
   an audio file row (10-minute songs) and a finished analysis with facts; 10,000 succeeded
   generations of a think model, each a ~450-word caption in headed sections with timestamps and
   a 40-step ``<think>`` trace, parsed by ``annotations.generations.services.parsing.parse`` (the
   product's parser, so ``Generation.parsed`` is real; eight distinct texts are parsed once and
   shared across songs); sibling groups of 2-4 for 40 % of songs; the hints the product's hint
   finder raises for each (text, facts) pair; 16 experts (expert role, expertise profiles). The
   queue is mid-project: the first 30 % of generations (the ones "next" meets first) already
   carry their k submitted reviews, marked complete by ``review_queue_sync``.
2. **Start the server as the project ships it** (README, "Running it for real"): one Daphne
   process serving ``workbench.asgi:application`` on loopback, DEBUG off, ``WORKBENCH_ENV=test``
   (plain HTTP; static files are not requested), access log to a file. ``--processes N`` starts N
   Daphne processes on one listening socket (``daphne --fd``), as a process supervisor runs
   Daphne on a multi-core box. One is the default because that is what ships; with today's
   settings a second process overflows PostgreSQL's 100 connections under the flat-out phase
   (every request opens a connection under ASGI and leaves it to the garbage collector).
3. **Simulated experts** (threads with ``http.client``, one keep-alive connection and cookie jar
   each; stdlib only, so the client costs ~1 % of the CPU beside the server): log in through the
   real form with its CSRF token, then per task: ask for the next task (POST, follow the
   redirect), load the review page, save 3-5 flags, save the whole form as a draft 3-4 times
   (each time with more of the 40 step grades, 7 aspect ratings, 8 metadata rows, verdict,
   corrected caption and sibling ranks filled in, the last one submittable), submit, and load
   ``/health/``. Every response's ``id="review-version"`` is read back and sent with the next
   save, as the page does.
4. **Phases**: *solo* (one expert, 8 tasks, no pauses); *paced* (16 experts pausing 2 s on
   average between actions, each starting at a random point: 2 s is the autosave cadence the
   issue asks for, so it is the fastest a continuously working expert produces saves; real
   experts, who read and listen, are slower); *flat out* (16 experts, no pauses: capacity and
   where it breaks). Targets (issue 5) are for 16 experts at work, so the paced phase is the one
   they are judged on; flat out shows the headroom.
5. **Print** per operation n, p50/p95/p99, errors; reviews submitted per second; the server's peak
   RSS (summed over its processes, sampled from /proc every 50 ms); CPU seconds spent by the
   server, PostgreSQL, this client and any other process (a neighbour's test run on 2 cores
   disturbs latencies, and the run says so); database sessions opened per request; and each
   target met or missed.
6. **Checks**, after the tables; the run exits 1 and names each one that missed: in the paced
   phase every operation's p95 within its target (issue 5: next task ≤ 100 ms, review page ≤ 150
   ms, flag and draft saves ≤ 50 ms); no failed request in any phase; the database holds every
   submit and every flag save the clients were told succeeded.

**Baselines measured in the same run** (README: ratios against a baseline from the same run):

- *floor*: ``GET /health/`` (Django's whole ASGI stack, middleware and one ``SELECT 1``: no
  session, no template) issued by the same 16 clients, interleaved with their work, under the
  same load. ``op p50 / floor p50`` is what each operation costs beyond the bare framework.
- *solo*: the same scripted task done by one expert alone before the load phases. ``loaded p95 /
  solo p50`` is what sharing two cores with 15 other experts costs.

Label Studio's figures in FACTS.md (next task p95 410 ms, submit p95 414 ms at 8 annotators,
gunicorn 4 workers, 1.2-1.5 GB RSS) come from another run and are quoted, never divided by.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import http.client
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workbench.settings")
django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from annotations.core.roles import EXPERT  # noqa: E402
from annotations.generations.models import (  # noqa: E402
    Generation,
    GenerationGroup,
    GenerationHint,
    ModelVersion,
    PromptTemplate,
)
from annotations.generations.services import parsing as generation_parsing  # noqa: E402
from annotations.reviews.models import ExpertProfile  # noqa: E402
from annotations.reviews.services import review_queue_sync  # noqa: E402
from annotations.songs.models import AudioFile, Culture, Genre, Language, Song, SongAnalysis  # noqa: E402
from benchmarks import checks  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-review-load-password"  # noqa: S105 (a throwaway database's experts)
MODEL_NAME = "music-flamingo-think (bench)"
TEXT_VARIANTS = 8
SONG_SECONDS = 600.0
# Mid-project: this share of generations (lowest ids, which the queue hands out first) already
# carries its k submitted reviews from earlier experts, so "next" has full slots to skip.
PAST_SHARE = 0.3

# --- seed texts ----------------------------------------------------------------------------------

GENRES = [
    ("afrobeat", "Afrobeat"),
    ("bossa-nova", "Bossa nova"),
    ("flamenco", "Flamenco"),
    ("hindustani", "Hindustani classical"),
    ("highlife", "Highlife"),
    ("jazz", "Jazz"),
    ("k-pop", "K-pop"),
    ("mbalax", "Mbalax"),
    ("rock", "Rock"),
    ("samba", "Samba"),
    ("synth-pop", "Synth-pop"),
    ("tango", "Tango"),
]
CULTURES = [
    ("yoruba", "Yoruba", "West Africa"),
    ("brazilian", "Brazilian", "South America"),
    ("andalusian", "Andalusian", "Southern Europe"),
    ("north-indian", "North Indian", "South Asia"),
    ("ghanaian", "Ghanaian", "West Africa"),
    ("african-american", "African American", "North America"),
    ("korean", "Korean", "East Asia"),
    ("rioplatense", "Rioplatense", "South America"),
]
LANGUAGES = [
    ("en", "English"),
    ("pt", "Portuguese"),
    ("es", "Spanish"),
    ("hi", "Hindi"),
    ("yo", "Yoruba"),
    ("ko", "Korean"),
]
KEYS = [
    "A minor",
    "C major",
    "F# minor",
    "E-flat major",
    "D minor",
    "G major",
    "B minor",
    "F major",
]
TEMPI = [72, 84, 92, 96, 104, 112, 120, 128, 136, 144]
INSTRUMENTS = [
    "drum kit",
    "electric bass",
    "nylon-string guitar",
    "talking drum",
    "tabla",
    "sitar",
    "bandoneon",
    "Rhodes piano",
    "synth pad",
    "horn section",
    "shekere",
    "cajón",
    "upright bass",
    "kora",
    "string quartet",
    "analogue lead synth",
]
ADJECTIVES = [
    "warm",
    "bright",
    "dry",
    "reverberant",
    "syncopated",
    "muted",
    "punchy",
    "airy",
    "dense",
    "sparse",
    "driving",
    "laid-back",
    "glassy",
    "gritty",
    "lush",
    "percussive",
]
VERBS = [
    "carries",
    "doubles",
    "answers",
    "outlines",
    "punctuates",
    "decorates",
    "anchors",
    "shadows",
    "colours",
    "drives",
]
OBJECTS = [
    "the main riff",
    "the vocal line",
    "the offbeats",
    "the bass ostinato",
    "the call-and-response phrases",
    "the turnaround",
    "the cadence at the end of each phrase",
    "the polyrhythmic bell pattern",
    "the chorus hook",
    "the descending chromatic line",
]
SECTIONS = [
    ("Genre & Style", "genre"),
    ("Instrumentation & Production", "instrumentation"),
    ("Vocals", "vocals"),
    ("Rhythm & Tempo", "rhythm"),
    ("Harmony & Theory", "harmony"),
    ("Structure & Dynamics", "structure"),
    ("Mood & Cultural Context", "culture"),
]


def _stamp(seconds: int) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}"


def _sentence(rng: random.Random, i: int) -> str:
    """One varied descriptive sentence (the parser flags a sentence said three times as a loop)."""
    a, b = rng.sample(INSTRUMENTS, 2)
    return (
        f"The {rng.choice(ADJECTIVES)} {a} {rng.choice(VERBS)} {rng.choice(OBJECTS)} while the "
        f"{rng.choice(ADJECTIVES)} {b} {rng.choice(VERBS)} {rng.choice(OBJECTS)} in passage {i}."
    )


def caption_and_trace(variant: int) -> str:
    """A Music-Flamingo-style think output: a 40-step trace and a ~450-word sectioned caption."""
    rng = random.Random(variant)
    key = KEYS[variant % len(KEYS)]
    tempo = TEMPI[variant % len(TEMPI)]
    metre = "4/4" if variant % 3 else "6/8"
    stamps = sorted(rng.sample(range(5, int(SONG_SECONDS) - 30), 12))
    steps = []
    for n in range(1, 41):
        if n == 3:
            body = f"Counting beats against the hi-hat gives about {tempo} BPM in {metre}."
        elif n == 7:
            body = f"The bass keeps returning to the tonic, so the key is {key}."
        elif n % 5 == 0:
            at = stamps[(n // 5) % len(stamps)]
            body = (
                f"At {_stamp(at)} the {rng.choice(INSTRUMENTS)} enters and the texture becomes "
                f"{rng.choice(ADJECTIVES)}, which marks a new section."
            )
        else:
            body = _sentence(rng, n)
        steps.append(f"Step {n}: {body}")
    sections = []
    for heading, aspect in SECTIONS:
        sentences = [
            _sentence(rng, i) for i in range(2 if aspect in ("rhythm", "structure") else 3)
        ]
        if aspect == "rhythm":
            sentences.insert(0, f"The groove sits at around {tempo} BPM in {metre}.")
        elif aspect == "harmony":
            sentences.insert(0, f"The song is in {key} and leans on a i–VI–III–VII cycle.")
        elif aspect == "structure":
            marks = ", ".join(
                f"the {label} at {_stamp(at)}"
                for label, at in zip(
                    ("intro", "first verse", "chorus", "bridge", "final chorus", "outro"),
                    [0, *stamps[1::2]],
                    strict=False,
                )
            )
            sentences.insert(0, f"The form unfolds with {marks}.")
        elif aspect == "vocals":
            sentences.insert(0, "A lead voice sings in call and response with a small chorus.")
        sections.append(f"**{heading}:** " + " ".join(sentences))
    return "<think>" + "\n".join(steps) + "</think>\n<answer>" + "\n\n".join(sections) + "</answer>"


# --- seeding -------------------------------------------------------------------------------------


@dataclass
class Seeded:
    generations: int
    experts: list[str]
    caption_min_chars: int
    reasoning_min_chars: int


def seed(n_generations: int, n_experts: int) -> Seeded:
    """Songs, analyses, generations (with parsed texts and hints) and experts, set-based."""
    started = time.perf_counter()
    texts = []
    for variant in range(TEXT_VARIANTS):
        raw = caption_and_trace(variant)
        parsed = generation_parsing.parse(raw)
        problems = [p["code"] for p in parsed.data["problems"]]
        if problems or len(parsed.data["steps"]) != 40:
            raise SystemExit(f"seed text {variant} parses badly: {problems}")
        texts.append((raw, parsed))
    words = len(texts[0][1].answer_text.split())
    existing = Generation.objects.filter(model_version__name=MODEL_NAME).count()
    experts = [f"bench-expert-{i:02d}" for i in range(n_experts)]
    if existing >= n_generations:
        print(f"seed: {existing:,} generations already there")
        _seed_experts(experts)
        return _seeded(n_generations, experts)

    genres = [Genre.objects.get_or_create(slug=s, defaults={"name": n})[0] for s, n in GENRES]
    cultures = [
        Culture.objects.get_or_create(slug=s, defaults={"name": n, "region": r})[0]
        for s, n, r in CULTURES
    ]
    languages = [
        Language.objects.get_or_create(slug=s, defaults={"name": n})[0] for s, n in LANGUAGES
    ]
    version, _ = ModelVersion.objects.get_or_create(
        name=MODEL_NAME,
        defaults={
            "variant": ModelVersion.Variant.THINK,
            "checkpoint_uri": "nvidia/music-flamingo-think-2601-hf",
            "status": ModelVersion.Status.SERVING,
        },
    )
    prompt = PromptTemplate.objects.filter(name="full-caption-think").order_by("-version").first()
    assert prompt is not None, "the migration-seeded prompt library is missing"

    # Group sizes: 60 % of songs have one generation, the rest a sibling group of 2-4.
    rng = random.Random(5)
    sizes: list[int] = []
    while sum(sizes) < n_generations:
        sizes.append(1 if rng.random() < 0.6 else rng.randint(2, 4))
    sizes[-1] -= sum(sizes) - n_generations
    n_songs = len(sizes)
    now = timezone.now()
    # Facts per song: measured tempo/key that agree with some texts and contradict others, so
    # pages carry a realistic mix of hints.
    facts_variants = [
        {
            "analyser_version": "1.1",
            "duration_seconds": SONG_SECONDS,
            "tempo_bpm": float(TEMPI[(v + 2) % len(TEMPI)] if v % 2 else TEMPI[v % len(TEMPI)]),
            "tempo_confidence": 0.8,
            "key_label": KEYS[v % len(KEYS)],
            "key_tonic": KEYS[v % len(KEYS)].split()[0].replace("E-flat", "Eb"),
            "key_mode": KEYS[v % len(KEYS)].split()[1],
            "key_confidence": 0.7,
            "meter": "4/4",
            "meter_confidence": 0.6,
            "sections": [
                {"start": float(s), "end": float(min(s + 90, SONG_SECONDS)), "label": label}
                for s, label in zip(range(0, int(SONG_SECONDS), 90), "ABACABCD", strict=False)
            ],
        }
        for v in range(TEXT_VARIANTS)
    ]
    # The hint finder's answer depends only on (text variant, facts variant): 64 calls, not 10,000.
    hints_for = {
        (tv, fv): generation_parsing.hints(texts[tv][1].data, facts_variants[fv])
        for tv in range(TEXT_VARIANTS)
        for fv in range(TEXT_VARIANTS)
    }

    batch = 2000
    made = 0
    with transaction.atomic():
        for first in range(0, n_songs, batch):
            idx = range(first, min(n_songs, first + batch))
            songs = Song.objects.bulk_create(
                Song(
                    title=f"Bench song {i:06d}",
                    artist=f"Bench artist {i % 613}",
                    year=1950 + i % 75,
                    status=Song.Status.READY,
                    tags=["bench"],
                )
                for i in idx
            )
            Song.genres.through.objects.bulk_create(
                [
                    Song.genres.through(song_id=s.pk, genre_id=genres[(s.pk + k) % len(genres)].pk)
                    for s in songs
                    for k in (0, 5)
                ]
            )
            Song.cultures.through.objects.bulk_create(
                Song.cultures.through(song_id=s.pk, culture_id=cultures[s.pk % len(cultures)].pk)
                for s in songs
            )
            Song.languages.through.objects.bulk_create(
                Song.languages.through(
                    song_id=s.pk, language_id=languages[s.pk % len(languages)].pk
                )
                for s in songs
            )
            audio = AudioFile.objects.bulk_create(
                AudioFile(
                    song=s,
                    sha256=hashlib.sha256(f"bench-{s.pk}".encode()).hexdigest(),
                    size_bytes=SONG_SECONDS * 44100 * 4,
                    file=f"audio/bench/{s.pk}.flac",
                    original_filename=f"{s.title}.flac",
                    format="flac",
                    duration_seconds=SONG_SECONDS,
                    sample_rate=44100,
                    channels=2,
                    probed_at=now,
                )
                for s in songs
            )
            SongAnalysis.objects.bulk_create(
                SongAnalysis(
                    song=s,
                    audio_file=a,
                    analyser_version="1.1",
                    status=SongAnalysis.Status.SUCCEEDED,
                    progress=1.0,
                    stage="done",
                    facts=facts_variants[s.pk % TEXT_VARIANTS],
                    artifacts={
                        "beats": "beats.json",
                        "loudness": "loudness.json",
                        "peaks": "peaks.json",
                        "spectrogram": "spectrogram.png",
                    },
                    started_at=now,
                    finished_at=now,
                )
                for s, a in zip(songs, audio, strict=True)
            )
            groups = GenerationGroup.objects.bulk_create(
                GenerationGroup(song=s, model_version=version, prompt=prompt, size=sizes[i])
                for s, i in zip(songs, idx, strict=True)
            )
            rows, pairs = [], []
            for s, a, g in zip(songs, audio, groups, strict=True):
                for sibling in range(g.size):
                    variant = (s.pk + sibling * 3) % TEXT_VARIANTS
                    pairs.append((variant, s.pk % TEXT_VARIANTS))
                    raw, parsed = texts[variant]
                    rows.append(
                        Generation(
                            song=s,
                            model_version=version,
                            prompt=prompt,
                            group=g,
                            sibling_index=sibling,
                            decoding={"max_new_tokens": 2048, "temperature": 0.7, "top_p": 0.9},
                            seed=1000 + sibling,
                            status=Generation.Status.SUCCEEDED,
                            raw_text=raw,
                            think_text=parsed.think_text,
                            answer_text=parsed.answer_text,
                            parsed=parsed.data,
                            audio_seconds_heard=SONG_SECONDS,
                            audio_file=a,
                            audio_heard={
                                "start": 0.0,
                                "end": SONG_SECONDS,
                                "truncated": False,
                                "sha256": a.sha256,
                            },
                            input_tokens=15000,
                            output_tokens=2100,
                            timings={"generate": 21.5},
                            started_at=now,
                            finished_at=now,
                        )
                    )
            generations = Generation.objects.bulk_create(rows)
            GenerationHint.objects.bulk_create(
                GenerationHint(generation=gen, **fields)
                for gen, pair in zip(generations, pairs, strict=True)
                for fields in hints_for[pair]
            )
            made += len(generations)
    _seed_experts(experts)
    past = _seed_past_reviews(int(n_generations * PAST_SHARE))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    seeded = _seeded(n_generations, experts)
    print(
        f"seed: {n_songs:,} songs, {made:,} generations ({words}-word captions, 40-step traces, "
        f"{GenerationHint.objects.count():,} hints), {past:,} past submitted reviews on the first "
        f"{PAST_SHARE:.0%} of generations, {len(experts)} experts in "
        f"{time.perf_counter() - started:.1f} s"
    )
    return seeded


def _seeded(n_generations: int, experts: list[str]) -> Seeded:
    """What the simulated experts need to know: who they are, how long the texts are at least."""
    from django.db.models import Min
    from django.db.models.functions import Length

    lengths = Generation.objects.filter(model_version__name=MODEL_NAME).aggregate(
        caption=Min(Length("answer_text")), reasoning=Min(Length("think_text"))
    )
    return Seeded(
        generations=n_generations,
        experts=experts,
        caption_min_chars=lengths["caption"],
        reasoning_min_chars=lengths["reasoning"],
    )


def _seed_past_reviews(n: int) -> int:
    """k submitted reviews from earlier (non-benchmark) experts on the first ``n`` generations."""
    from django.conf import settings

    from annotations.reviews.models import Review

    k = max(1, int(settings.WORKBENCH_REVIEWS_PER_GENERATION))
    group = Group.objects.get(name=EXPERT)
    past = []
    for i in range(k):
        user, _ = User.objects.get_or_create(username=f"bench-past-{i}")
        user.groups.add(group)
        past.append(user)
    ids = list(
        Generation.objects.filter(model_version__name=MODEL_NAME)
        .order_by("id")
        .values_list("id", flat=True)[:n]
    )
    now = timezone.now()
    Review.objects.bulk_create(
        (
            Review(
                generation_id=gid,
                expert=user,
                status=Review.Status.SUBMITTED,
                version=12,
                verdict=Review.Verdict.ACCEPT_WITH_FIXES,
                submitted_at=now,
                step_grades={str(s): "correct" for s in range(1, 41)},
                aspect_ratings={"genre": 4, "rhythm": 3},
            )
            for gid in ids
            for user in past
        ),
        batch_size=5000,
    )
    # The product's set-based recount marks these outputs review_complete, as submits would have.
    review_queue_sync()
    return len(ids) * k


def _seed_experts(usernames: list[str]) -> None:
    group = Group.objects.get(name=EXPERT)
    genres = list(Genre.objects.filter(slug__in=[s for s, _ in GENRES]).order_by("slug"))
    cultures = list(Culture.objects.filter(slug__in=[s for s, *_ in CULTURES]).order_by("slug"))
    languages = list(Language.objects.filter(slug__in=[s for s, _ in LANGUAGES]).order_by("slug"))
    password = make_password(PASSWORD)
    for i, username in enumerate(usernames):
        user, created = User.objects.get_or_create(username=username)
        if created or not user.check_password(PASSWORD):
            user.password = password
            user.save(update_fields=["password"])
        user.groups.add(group)
        profile, _ = ExpertProfile.objects.get_or_create(
            user=user, defaults={"display_name": f"Bench expert {i}"}
        )
        # Broad but different expertise: each expert knows half the genres, cultures and languages.
        profile.genres.set(genres[i % 2 :: 2])
        profile.cultures.set(cultures[i % 2 :: 2])
        profile.languages.set(languages[i % 2 :: 2])


# --- the server ----------------------------------------------------------------------------------


class Server:
    """N Daphne processes serving ``workbench.asgi:application`` on one loopback socket.

    One listening socket is opened here and handed to every process (``daphne --fd``), so the
    kernel spreads connections over them, as a process supervisor does on a multi-core box.
    """

    def __init__(self, processes: int, log_path: Path, app: str) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=1024)
        self.sock.set_inheritable(True)
        self.port = self.sock.getsockname()[1]
        env = {
            **os.environ,
            "DJANGO_DEBUG": "false",
            "PYTHONUNBUFFERED": "1",
            "WORKBENCH_LOG_LEVEL": "WARNING",
        }
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = log_path.open("w")
        daphne = Path(sys.executable).with_name("daphne")
        fd = self.sock.fileno()
        self.procs = [
            subprocess.Popen(
                [str(daphne), "--fd", str(fd), "-v", "1", app],
                cwd=ROOT,
                env=env,
                pass_fds=(fd,),
                stdout=self.log,
                stderr=subprocess.STDOUT,
            )
            for _ in range(processes)
        ]
        self.log_path = log_path

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in self.procs:
                if proc.poll() is not None:
                    raise SystemExit(f"the server exited; see {self.log_path}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/health/", headers={"Host": "localhost"})
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"the server did not answer /health/ in {timeout:.0f} s")

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def stop(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.sock.close()
        self.log.close()


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _cpu_seconds(pid: int, *, children: bool = False) -> float:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the ")" of comm: state is fields[0]; utime, stime, cutime, cstime are 14-17 (1-based).
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def _machine_busy_seconds() -> float:
    """CPU seconds every process on the machine spent (all cores), from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _postgres_cpu_seconds() -> float:
    """CPU of every postgres process alive now, plus what finished backends left in the
    postmaster's children counters (each connection is a process that may exit mid-phase)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as comm:
                if comm.read().strip() != "postgres":
                    continue
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{ppid}/comm") as comm:
                is_postmaster = comm.read().strip() != "postgres"
        except OSError:
            continue
        total += _cpu_seconds(int(entry), children=is_postmaster)
    return total


class RssSampler(threading.Thread):
    """Peak of the summed RSS of the server's processes, sampled every 50 ms."""

    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.peak = 0
        self.last = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.last = sum(_rss_bytes(pid) for pid in self.pids)
            self.peak = max(self.peak, self.last)
            self.stopped.wait(0.05)


def _db_sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


# --- the simulated expert ------------------------------------------------------------------------

URLS = {
    "login": "/accounts/login/",
    "next": "/review/next/",
    "page": "/reviews/{id}/",
    "flag": "/reviews/{id}/flags/",
    "draft": "/reviews/{id}/draft/",
    "submit": "/reviews/{id}/submit/",
    "health": "/health/",
}
_VERSION = re.compile(r'<input\b(?=[^>]*\bid="review-version")[^>]*\bvalue="(\d+)"', re.IGNORECASE)
_INPUT = re.compile(r"<input\b[^>]*>", re.IGNORECASE)
_SELECT = re.compile(r"<select\b([^>]*)>(.*?)</select>", re.IGNORECASE | re.DOTALL)
_TEXTAREA = re.compile(r"<textarea\b([^>]*)>(.*?)</textarea>", re.IGNORECASE | re.DOTALL)
_ATTR = re.compile(r'([\w-]+)(?:="([^"]*)")?')
_REVIEW_ID = re.compile(r"/reviews/(\d+)/")


def _attrs(tag: str) -> dict[str, str]:
    return {name.lower(): value or "" for name, value in _ATTR.findall(tag)}


@dataclass
class Reply:
    status: int
    body: str
    headers: http.client.HTTPMessage
    ms: float


@dataclass
class Stats:
    """Latencies (ms) and errors per operation, shared by the expert threads."""

    ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    samples: dict[str, str] = field(default_factory=dict)
    submitted: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, op: str, reply: Reply, ok: bool) -> None:
        with self.lock:
            self.ms[op].append(reply.ms)
            if not ok:
                self.errors[op] += 1
                body = " ".join(reply.body.split())[:300]
                self.samples.setdefault(op, f"HTTP {reply.status}: {body}")

    def requests(self) -> int:
        return sum(len(v) for v in self.ms.values())


class Expert:
    """One browser: a keep-alive connection, a cookie jar, and the review it works on."""

    def __init__(self, port: int, username: str, seeded: Seeded, categories: list[str]) -> None:
        self.port = port
        self.username = username
        self.seeded = seeded
        self.categories = categories
        self.cookies: dict[str, str] = {}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.rng = random.Random(username)

    def request(
        self, method: str, path: str, fields: list[tuple[str, str]] | None = None, *, htmx: bool
    ) -> Reply:
        headers = {"Host": "localhost", "Connection": "keep-alive"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if method == "POST":
            body = urllib.parse.urlencode(fields or [])
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["X-CSRFToken"] = self.cookies.get("csrftoken", "")
        if htmx:
            headers["HX-Request"] = "true"
        for attempt in (1, 2):
            started = time.perf_counter()
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                break
            except (http.client.HTTPException, OSError):
                # The server closed an idle keep-alive connection: reconnect once.
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt == 2:
                    raise
        ms = (time.perf_counter() - started) * 1000
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return Reply(response.status, data.decode("utf-8", "replace"), response.headers, ms)

    def login(self, stats: Stats) -> None:
        page = self.request("GET", URLS["login"], htmx=False)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.body)
        if page.status != 200 or token is None:
            raise SystemExit(f"login page: HTTP {page.status}")
        reply = self.request(
            "POST",
            URLS["login"],
            [
                ("csrfmiddlewaretoken", token.group(1)),
                ("username", self.username),
                ("password", PASSWORD),
            ],
            htmx=False,
        )
        stats.record("login", reply, reply.status == 302)
        if reply.status != 302:
            raise SystemExit(f"{self.username} could not log in: HTTP {reply.status}")

    # One task, the way an expert's browser does it.

    def task(self, stats: Stats, think: float) -> bool:
        """Next task, page, 3-5 flags, 3-4 whole-form drafts, submit. False when no task is left."""
        reply = self.request("POST", URLS["next"], [], htmx=False)
        location = reply.headers.get("Location") or reply.headers.get("HX-Redirect") or ""
        found = _REVIEW_ID.search(location)
        stats.record("next", reply, reply.status in (302, 303) and found is not None)
        if found is None:
            return False
        review_id = found.group(1)
        self.pause(think)
        page = self.request("GET", URLS["page"].format(id=review_id), htmx=False)
        version = _VERSION.search(page.body)
        stats.record("page", page, page.status == 200 and version is not None)
        if version is None:
            return True
        self.version = int(version.group(1))
        form = ReviewForm.parse(page.body)
        for _ in range(self.rng.randint(3, 5)):
            self.pause(think)
            self.mutate(stats, "flag", URLS["flag"].format(id=review_id), self.flag_fields())
        drafts = self.rng.randint(3, 4)
        for i in range(1, drafts + 1):
            self.pause(think)
            fields = form.filled(self.rng, share=i / drafts)
            self.mutate(stats, "draft", URLS["draft"].format(id=review_id), fields)
        self.pause(think)
        reply = self.mutate(stats, "submit", URLS["submit"].format(id=review_id), [])
        # Success leaves the page: htmx gets HX-Redirect to the queue; a refusal is a 400.
        if reply.status == 200 and reply.headers.get("HX-Redirect"):
            with stats.lock:
                stats.submitted += 1
        self.pause(think)
        health = self.request("GET", URLS["health"], htmx=False)
        stats.record("health", health, health.status == 200)
        return True

    def mutate(self, stats: Stats, op: str, path: str, fields: list[tuple[str, str]]) -> Reply:
        reply = self.request("POST", path, [*fields, ("version", str(self.version))], htmx=True)
        found = _VERSION.search(reply.body)
        ok = 200 <= reply.status < 400
        if found is not None:
            self.version = int(found.group(1))
        elif ok:
            self.version += 1
        stats.record(op, reply, ok)
        return reply

    def flag_fields(self) -> list[tuple[str, str]]:
        target = self.rng.choice(["caption", "caption", "reasoning"])
        limit = (
            self.seeded.caption_min_chars
            if target == "caption"
            else self.seeded.reasoning_min_chars
        )
        start = self.rng.randrange(0, limit - 60)
        end = start + self.rng.randint(6, 50)
        audio_start = self.rng.uniform(0, SONG_SECONDS - 20)
        with_audio = self.rng.random() < 0.5
        return [
            ("target", target),
            ("start", str(start)),
            ("end", str(end)),
            ("category", self.rng.choice(self.categories)),
            ("severity", self.rng.choice(["minor", "major", "critical"])),
            ("audio_start", f"{audio_start:.1f}" if with_audio else ""),
            ("audio_end", f"{audio_start + 8:.1f}" if with_audio else ""),
            ("correction", "a nylon-string guitar, not a kora" if self.rng.random() < 0.5 else ""),
            ("note", "audible from the second verse on"),
            ("hint", ""),
        ]

    @staticmethod
    def pause(think: float) -> None:
        if think > 0:
            time.sleep(random.uniform(0.5 * think, 1.5 * think))


_FORM_FIELD = re.compile(
    r"^(verdict|comment|corrected_caption|siblings_all_wrong|step_\d+|aspect_\w+|meta_\w+|rank_\d+)$"
)
GRADE_WEIGHTS = {"correct": 0.7, "incorrect": 0.2, "unverifiable": 0.1}


@dataclass
class ReviewForm:
    """The review form's fields as the page rendered them, and an expert filling them in."""

    values: dict[str, str]
    options: dict[str, list[str]]
    chosen: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, page: str) -> ReviewForm:
        values: dict[str, str] = {}
        options: dict[str, list[str]] = defaultdict(list)
        for tag in _INPUT.findall(page):
            a = _attrs(tag)
            name = a.get("name", "")
            if not _FORM_FIELD.match(name):
                continue
            kind = a.get("type", "text").lower()
            value = html.unescape(a.get("value", ""))
            if kind == "radio":
                options[name].append(value)
                if "checked" in a:
                    values[name] = value
                else:
                    values.setdefault(name, "")
            elif kind == "checkbox":
                values[name] = value or "on" if "checked" in a else ""
            else:
                values[name] = value
        for attrs, inner in _SELECT.findall(page):
            name = _attrs(attrs).get("name", "")
            if not _FORM_FIELD.match(name):
                continue
            values.setdefault(name, "")
            for option in re.findall(r"<option\b[^>]*>", inner, re.IGNORECASE):
                oa = _attrs(option)
                options[name].append(html.unescape(oa.get("value", "")))
                if "selected" in oa:
                    values[name] = html.unescape(oa.get("value", ""))
        for attrs, inner in _TEXTAREA.findall(page):
            name = _attrs(attrs).get("name", "")
            if _FORM_FIELD.match(name):
                values[name] = html.unescape(inner.lstrip("\n"))
        return cls(values=values, options=dict(options))

    def names(self, prefix: str) -> list[str]:
        return sorted(
            (n for n in self.values if n.startswith(prefix)),
            key=lambda n: (len(n), n),
        )

    def filled(self, rng: random.Random, *, share: float) -> list[tuple[str, str]]:
        """The whole form with ``share`` (0-1] of the work done; 1 is submittable."""
        out = dict(self.values)
        steps = self.names("step_")
        for name in steps[: max(1, round(len(steps) * share))]:
            if name not in self.chosen:
                grades = [g for g in self.options.get(name, GRADE_WEIGHTS) if g in GRADE_WEIGHTS]
                self.chosen[name] = rng.choices(grades, weights=[GRADE_WEIGHTS[g] for g in grades])[
                    0
                ]
        if share >= 0.5:
            for name in self.names("aspect_"):
                self.chosen.setdefault(name, str(rng.randint(2, 5)))
            caption = self.values.get("corrected_caption", "")
            self.chosen.setdefault(
                "corrected_caption", caption.replace(" kora ", " nylon-string guitar ", 1)
            )
        if share >= 0.75:
            for name in self.names("meta_"):
                if name.endswith("_status"):
                    value = self.values.get(name[: -len("_status")], "")
                    self.chosen.setdefault(name, "confirmed" if value else "unsure")
                elif name.endswith("_source"):
                    self.chosen.setdefault(name, self.values.get(name) or "analysis")
        if share >= 1:
            self.chosen.setdefault("verdict", "accept_with_fixes")
            self.chosen.setdefault("comment", "Tempo and the regional instrument names are off.")
            ranks = self.names("rank_")
            for name, rank in zip(
                ranks, rng.sample(range(1, len(ranks) + 1), len(ranks)), strict=True
            ):
                self.chosen.setdefault(name, str(rank))
        out.update(self.chosen)
        return [(name, value) for name, value in out.items() if value != ""]


# --- phases and the report -----------------------------------------------------------------------

TARGETS_MS = {"next": 100.0, "page": 150.0, "flag": 50.0, "draft": 50.0}
LABELS = {
    "next": "next task (POST)",
    "page": "review page (GET)",
    "flag": "flag save",
    "draft": "draft save (form)",
    "submit": "submit",
    "health": "floor: /health/",
    "login": "login (POST)",
}


def _pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(-(-q * len(ordered) // 100)) - 1))]


@dataclass
class PhaseResult:
    name: str
    experts: int
    think: float
    wall: float
    stats: Stats
    rss_peak: int
    cpu_server: float
    cpu_postgres: float
    cpu_client: float
    cpu_machine: float
    db_sessions: int


def run_phase(
    name: str,
    experts: list[Expert],
    server: Server,
    sampler: RssSampler,
    *,
    seconds: float,
    think: float,
    max_tasks: int | None = None,
) -> PhaseResult:
    stats = Stats()
    stop_at = time.monotonic() + seconds
    failures: list[BaseException] = []

    def work(expert: Expert) -> None:
        done = 0
        # Independent people do not click in step: each starts at a random point of one pause
        # cycle (a synchronised start would measure 16 simultaneous "next" clicks instead).
        if think > 0:
            time.sleep(random.uniform(0, 2 * think))
        try:
            while time.monotonic() < stop_at and (max_tasks is None or done < max_tasks):
                if not expert.task(stats, think):
                    return
                done += 1
        except BaseException as exc:  # reported after the phase, never silently
            failures.append(exc)

    sessions = _db_sessions()
    cpu_server = sum(_cpu_seconds(pid) for pid in server.pids())
    cpu_pg = _postgres_cpu_seconds()
    cpu_client = sum(os.times()[:2])
    cpu_machine = _machine_busy_seconds()
    sampler.peak = sampler.last
    started = time.perf_counter()
    threads = [threading.Thread(target=work, args=(e,)) for e in experts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{name}: {len(failures)} expert(s) failed: {failures[0]!r}")
    return PhaseResult(
        name=name,
        experts=len(experts),
        think=think,
        wall=wall,
        stats=stats,
        rss_peak=sampler.peak,
        cpu_server=sum(_cpu_seconds(pid) for pid in server.pids()) - cpu_server,
        cpu_postgres=_postgres_cpu_seconds() - cpu_pg,
        cpu_client=sum(os.times()[:2]) - cpu_client,
        cpu_machine=_machine_busy_seconds() - cpu_machine,
        db_sessions=_db_sessions() - sessions,
    )


def report(result: PhaseResult, solo: PhaseResult | None, *, judged: bool = False) -> list[str]:
    """Print the phase's table; return the checks it missed: any failed request, and (``judged``:
    the paced phase) any operation whose p95 is over its target."""
    missed: list[str] = []
    s = result.stats
    floor = statistics.median(s.ms["health"]) if s.ms.get("health") else None
    pace = f"think {result.think:.2f} s mean" if result.think else "no think time (flat out)"
    print(
        f"\n== {result.name}: {result.experts} expert(s), {pace}, {result.wall:.1f} s, "
        f"{s.requests():,} requests ({s.requests() / result.wall:.1f}/s), "
        f"{s.submitted:,} reviews submitted ({s.submitted / result.wall:.2f}/s)"
    )
    print(
        f"  {'operation':20} {'n':>6} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7} {'err':>4}"
        f"  {'target p95':>10}  {'÷floor p50':>10}  {'p95÷solo p50':>12}"
    )
    for op in ("next", "page", "flag", "draft", "submit", "health", "login"):
        values = s.ms.get(op)
        if not values:
            continue
        p50, p95, p99 = _pct(values, 50), _pct(values, 95), _pct(values, 99)
        target = TARGETS_MS.get(op) if judged else None
        verdict = (
            f"≤{target:.0f} {'met' if p95 <= target else 'MISSED'}" if target is not None else ""
        )
        if target is not None and p95 > target:
            missed.append(
                f"{result.name}: {LABELS[op]} p95 {p95:.1f} ms (target ≤ {target:.0f} ms)"
            )
        if s.errors.get(op):
            missed.append(
                f"{result.name}: {LABELS[op]}: {s.errors[op]} of {len(values)} requests failed"
            )
        vs_floor = f"{p50 / floor:.1f}×" if floor and op != "health" else ""
        solo_values = solo.stats.ms.get(op) if solo is not None else None
        vs_solo = f"{p95 / statistics.median(solo_values):.1f}×" if solo_values else ""
        print(
            f"  {LABELS[op]:20} {len(values):6d} {p50:7.1f} {p95:7.1f} {p99:7.1f} "
            f"{max(values):7.1f} {s.errors.get(op, 0):4d}  {verdict:>10}  {vs_floor:>10}  "
            f"{vs_solo:>12}"
        )
    cores = os.cpu_count() or 1
    print(
        f"  server peak RSS {result.rss_peak / 2**20:.0f} MiB; CPU seconds: server "
        f"{result.cpu_server:.1f}, PostgreSQL {result.cpu_postgres:.1f}, this client "
        f"{result.cpu_client:.1f} (of {cores} cores × {result.wall:.0f} s = "
        f"{cores * result.wall:.0f}); server CPU per submitted review "
        f"{1000 * result.cpu_server / max(1, s.submitted):.0f} ms"
    )
    other = result.cpu_machine - result.cpu_server - result.cpu_postgres - result.cpu_client
    busy = other > 0.1 * cores * result.wall
    print(
        f"  other processes on the machine used {other:.1f} CPU seconds"
        + (
            " — a busy neighbour: these latencies are disturbed, rerun on a quiet machine"
            if busy
            else " (quiet)"
        )
    )
    if busy and missed:
        missed.append(f"{result.name}: (a busy neighbour used {other:.0f} CPU seconds meanwhile)")
    print(
        f"  database sessions opened: {result.db_sessions:,} "
        f"({result.db_sessions / max(1, s.requests()):.2f} per request)"
    )
    for op, sample in s.samples.items():
        print(f"  first {op} error: {sample}")
    return missed


def _check_persisted(*phases: PhaseResult) -> list[str]:
    """The database agrees with what the clients were told: every submit stored, with its flags.
    Returns what disagrees."""
    from annotations.reviews.models import Flag, Review

    mine = Review.objects.filter(expert__username__startswith="bench-expert-")
    told = sum(p.stats.submitted for p in phases) + 1  # + the unmeasured warm-up task
    stored = mine.filter(status=Review.Status.SUBMITTED).count()
    flags = Flag.objects.filter(review__in=mine).count()
    saved = sum(len(p.stats.ms.get("flag", [])) - p.stats.errors.get("flag", 0) for p in phases)
    print(
        f"\ndatabase: {stored:,} submitted reviews by the simulated experts (clients saw {told:,} "
        f"submits succeed, warm-up included), {flags:,} flags (at least {saved:,} saves answered "
        "200 in the measured phases)"
    )
    missed = []
    if stored < told:
        missed.append(f"persistence: {stored:,} submitted reviews stored, clients saw {told:,}")
    if flags < saved:
        missed.append(f"persistence: {flags:,} flags stored, {saved:,} flag saves answered 200")
    return missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--generations", type=int, default=10_000)
    parser.add_argument("--experts", type=int, default=16)
    parser.add_argument("--processes", type=int, default=1, help="Daphne processes")
    parser.add_argument(
        "--app", default="workbench.asgi:application", help="the ASGI application Daphne serves"
    )
    parser.add_argument("--solo-tasks", type=int, default=8)
    parser.add_argument("--paced-seconds", type=float, default=120)
    parser.add_argument(
        "--think", type=float, default=2.0, help="paced phase: mean pause between actions (s)"
    )
    parser.add_argument("--flat-seconds", type=float, default=45)
    args = parser.parse_args()

    from annotations.reviews.models import ErrorCategory

    seeded = seed(args.generations, args.experts)
    categories = list(ErrorCategory.objects.filter(is_active=True).values_list("code", flat=True))
    log = Path(os.environ.get("WORKBENCH_DATA_DIR", ROOT / "var" / "bench")) / "review_load.log"
    server = Server(args.processes, log, args.app)
    try:
        server.wait_ready()
        sampler = RssSampler(server.pids())
        sampler.start()
        print(
            f"server: {args.processes} Daphne process(es) on 127.0.0.1:{server.port}, DEBUG off, "
            f"WORKBENCH_ENV={os.environ.get('WORKBENCH_ENV', 'production')}; log {log}"
        )
        logins = Stats()
        experts = [Expert(server.port, u, seeded, categories) for u in seeded.experts]
        for expert in experts:
            expert.login(logins)
        # One unmeasured task warms templates, URL resolvers and the first connections.
        experts[0].task(Stats(), 0)
        solo = run_phase(
            "solo baseline",
            experts[:1],
            server,
            sampler,
            seconds=600,
            think=0,
            max_tasks=args.solo_tasks,
        )
        paced = run_phase(
            "paced", experts, server, sampler, seconds=args.paced_seconds, think=args.think
        )
        flat = run_phase("flat out", experts, server, sampler, seconds=args.flat_seconds, think=0)
    finally:
        server.stop()
    for op, values in logins.ms.items():
        solo.stats.ms[op] = values
    missed = report(solo, None)
    missed += report(paced, solo, judged=True)
    missed += report(flat, solo)
    missed += _check_persisted(solo, paced, flat)
    errors = Counter(
        line.strip()
        for line in log.read_text(errors="replace").splitlines()
        if re.match(r"^[\w.]+(Error|Exception)\b|.*FATAL:", line)
    )
    for line, count in errors.most_common(3):
        print(f"server log: {count}× {line[:200]}")
    print(
        "\nQuoted, not divided by (another run, FACTS.md): Label Studio 1.23.2, gunicorn 4 workers,"
        " 8 annotators: next task p95 410 ms, submit p95 414 ms, ~12 labelled tasks/s, RSS "
        "1.2-1.5 GB."
    )
    checks.finish(missed)


if __name__ == "__main__":
    main()
