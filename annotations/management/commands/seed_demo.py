"""Fill an embedded workbench with demo users, vocabularies, songs, prompts and model versions."""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, TextIO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, OutputWrapper
from django.db import transaction

from annotations.core.roles import ADMIN, AUDITOR, EXPERT
from annotations.demo import audio as demo_audio
from annotations.demo.generations import seed_demo_generations
from annotations.demo.reviews import seed_demo_reviews
from annotations.demo.rewards import seed_demo_reward_reviews
from annotations.demo.training import seed_demo_training
from annotations.generations.models import ModelVersion, PromptTemplate
from annotations.reviews.models import ExpertProfile
from annotations.songs.models import Culture, Genre, Instrument, Language, Song
from annotations.songs.services.song_import import SongMetadata, song_import_file
from workbench.celery import background_work

# (username, role, display name, expertise: genres, cultures, languages, instruments)
DEMO_USERS: tuple[tuple[str, str, str, list[str], list[str], list[str], list[str]], ...] = (
    (
        "maya",
        EXPERT,
        "Maya (Brazilian popular music)",
        ["bossa-nova", "samba"],
        ["brazil"],
        ["pt"],
        ["nylon-guitar"],
    ),
    (
        "arjun",
        EXPERT,
        "Arjun (Hindustani classical)",
        ["hindustani-classical"],
        ["hindustani"],
        ["hi"],
        ["tabla", "sitar"],
    ),
    (
        "lena",
        EXPERT,
        "Lena (rock, pop and electronic)",
        ["rock", "electronic"],
        ["anglo-american"],
        ["en"],
        ["drum-kit", "synth-pad"],
    ),
    (
        "noor",
        EXPERT,
        "Noor (European folk and dance music)",
        ["waltz", "folk"],
        ["central-european"],
        ["en"],
        [],
    ),
    (
        "tomas",
        EXPERT,
        "Tomás (electronic and popular music)",
        ["electronic", "waltz"],
        ["central-european", "anglo-american"],
        ["en"],
        ["synth-pad"],
    ),
    ("ada", ADMIN, "", [], [], [], []),
    ("ravi", AUDITOR, "", [], [], [], []),
)

GENRES = {
    "bossa-nova": "Bossa nova",
    "samba": "Samba",
    "hindustani-classical": "Hindustani classical",
    "rock": "Rock",
    "folk": "Folk",
    "electronic": "Electronic",
    "waltz": "Waltz",
}
CULTURES = {
    "brazil": ("Brazilian", "Latin America"),
    "hindustani": ("Hindustani", "South Asia"),
    "anglo-american": ("Anglo-American", "North America"),
    "central-european": ("Central European", "Europe"),
}
LANGUAGES = {"en": "English", "pt": "Portuguese", "hi": "Hindi"}
INSTRUMENTS = {
    "nylon-guitar": ("Nylon-string guitar", "chordophone", None),
    "tabla": ("Tabla", "membranophone", "hindustani"),
    "sitar": ("Sitar", "chordophone", "hindustani"),
    "drum-kit": ("Drum kit", "membranophone", None),
    "synth-pad": ("Synth pad", "electrophone", None),
}

PIECES: tuple[tuple[demo_audio.DemoPiece, str, list[str], list[str], list[str]], ...] = (
    (
        demo_audio.DemoPiece(
            "Demo groove in A minor",
            120,
            4,
            (("A3", "C4", "E4"), ("F3", "A3", "C4"), ("C3", "E3", "G3"), ("G3", "B3", "D4")),
            True,
            24.0,
        ),
        ".wav",
        ["rock"],
        ["anglo-american"],
        ["en"],
    ),
    (
        demo_audio.DemoPiece(
            "Demo waltz in G major",
            96,
            3,
            (("G3", "B3", "D4"), ("C4", "E4", "G4"), ("D3", "F#3", "A3"), ("G3", "B3", "D4")),
            True,
            22.5,
        ),
        ".flac",
        ["waltz"],
        ["central-european"],
        [],
    ),
    (
        demo_audio.DemoPiece(
            "Demo pad in D major (no drums)",
            84,
            4,
            (("D3", "F#3", "A3"), ("G3", "B3", "D4"), ("A3", "C#4", "E4"), ("D3", "F#3", "A3")),
            False,
            20.0,
        ),
        ".ogg",
        ["electronic"],
        [],
        [],
    ),
    (
        # Longer than Music Flamingo's 20-minute window: the song page shades what it won't hear.
        demo_audio.DemoPiece(
            "Demo long-form suite in E minor (21 minutes)",
            100,
            4,
            (("E3", "G3", "B3"), ("C3", "E3", "G3"), ("D3", "F#3", "A3"), ("B2", "D#3", "F#3")),
            True,
            21 * 60.0,
            sample_rate=16000,
        ),
        ".ogg",
        ["folk"],
        [],
        [],
    ),
)

PROMPTS = (
    (
        "caption",
        False,
        "Describe this track in full detail - tell me the genre, tempo, and key, then dive "
        "into the instruments, production style, and overall mood it creates.",
    ),
    (
        "caption-think",
        True,
        "Describe this track in full detail: genre, tempo (BPM), key and metre, "
        "instrumentation and production, vocals and lyrics, structure with timestamps, harmony, and "
        "its mood and cultural context.",
    ),
)


class Command(BaseCommand):
    help = "Create demo users (printing their passwords), vocabularies, songs, prompts and model versions."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--log-file",
            type=Path,
            help="Write everything but the demo's own progress lines here: log records, "
            "libraries' warnings and progress bars, the trainer's loss lines.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.WORKBENCH_ENV not in ("demo", "development", "test"):
            raise CommandError("seed_demo only runs with WORKBENCH_ENV=demo, development or test.")
        log_file = options.get("log_file")
        with _output_to(log_file) if log_file else nullcontext(None) as console:
            if console is not None:
                self.stdout = OutputWrapper(console)
            # Everything the seed queues is start-up backlog: it goes to the background queue
            # and its own worker, so a person's upload or generation never waits behind it.
            with background_work():
                passwords = self._seed()
            self.stdout.write("Demo users (username / password / role):")
            for username, password, role in passwords:
                self.stdout.write(f"  {username:8} {password:24} {role}")

    def _seed(self) -> list[tuple[str, str, str]]:
        passwords = self._users()
        self._songs()
        self._model_registry()
        seed_demo_generations(data_dir=Path(settings.DATA_DIR), stdout=self.stdout)
        seed_demo_reviews(stdout=self.stdout)
        seed_demo_reward_reviews(stdout=self.stdout)
        seed_demo_training(stdout=self.stdout)
        return passwords

    @transaction.atomic
    def _users(self) -> list[tuple[str, str, str]]:
        for slug, name in GENRES.items():
            Genre.objects.get_or_create(slug=slug, defaults={"name": name})
        for slug, (name, region) in CULTURES.items():
            Culture.objects.get_or_create(slug=slug, defaults={"name": name, "region": region})
        for slug, name in LANGUAGES.items():
            Language.objects.get_or_create(slug=slug, defaults={"name": name})
        for slug, (name, family, culture) in INSTRUMENTS.items():
            Instrument.objects.get_or_create(
                slug=slug,
                defaults={
                    "name": name,
                    "family": family,
                    "culture": Culture.objects.filter(slug=culture).first(),
                },
            )
        # Passwords are random per installation and kept beside the database, readable only by us.
        password_file = Path(settings.DATA_DIR) / "demo_passwords.txt"
        known = (
            dict(
                line.split(" ", 1) for line in password_file.read_text().splitlines() if " " in line
            )
            if password_file.exists()
            else {}
        )
        user_model = get_user_model()
        printed = []
        for username, role, display, genres, cultures, languages, instruments in DEMO_USERS:
            password = known.get(username) or secrets.token_urlsafe(12)
            user, created = user_model.objects.get_or_create(username=username)
            if created or username not in known:
                user.set_password(password)
            # Admins edit vocabularies and the taxonomy in the Django admin, which needs staff.
            user.is_staff = role == ADMIN
            user.save()
            user.groups.add(Group.objects.get(name=role))
            known[username] = password
            printed.append((username, password, role))
            if role == EXPERT:
                profile, _ = ExpertProfile.objects.get_or_create(
                    user=user, defaults={"display_name": display}
                )
                profile.genres.set(Genre.objects.filter(slug__in=genres))
                profile.cultures.set(Culture.objects.filter(slug__in=cultures))
                profile.languages.set(Language.objects.filter(slug__in=languages))
                profile.instruments.set(Instrument.objects.filter(slug__in=instruments))
        password_file.write_text("".join(f"{u} {p}\n" for u, p in known.items()))
        password_file.chmod(0o600)
        return printed

    def _songs(self) -> None:
        admin = get_user_model().objects.get(username="ada")
        with tempfile.TemporaryDirectory() as tmp:
            for piece, suffix, genres, cultures, languages in PIECES:
                if Song.objects.filter(title=piece.title).exists():
                    continue
                path = demo_audio.write(piece, Path(tmp) / f"demo{suffix}")
                result = song_import_file(
                    path=path,
                    filename=f"{piece.title}{suffix}",
                    metadata=SongMetadata(
                        title=piece.title,
                        artist="Flamingo Workbench demo",
                        year=2026,
                        genres=genres,
                        cultures=cultures,
                        languages=languages,
                        licence="CC0 (synthesised for the demo)",
                        source="annotations/demo_audio.py",
                        tags=["demo", f"{piece.bpm:g} bpm", f"{piece.beats_per_bar} beats per bar"],
                    ),
                    actor=admin,
                )
                if result.outcome != "added":
                    raise CommandError(result.message)
                self.stdout.write(f"Added song: {result.message}; analysis queued")

    @transaction.atomic
    def _model_registry(self) -> None:
        for name, thinking, text in PROMPTS:
            PromptTemplate.objects.get_or_create(
                name=name, version=1, defaults={"text": text, "thinking": thinking}
            )
        for name, variant, uri in (
            ("music-flamingo-2601", ModelVersion.Variant.INSTRUCT, "nvidia/music-flamingo-2601-hf"),
            (
                "music-flamingo-think-2601",
                ModelVersion.Variant.THINK,
                "nvidia/music-flamingo-think-2601-hf",
            ),
        ):
            ModelVersion.objects.get_or_create(
                name=name,
                defaults={
                    "variant": variant,
                    "checkpoint_uri": uri,
                    "status": ModelVersion.Status.CANDIDATE,
                    "notes": "Registered by the demo; weights are not downloaded here "
                    "(non-commercial research licence).",
                },
            )


@contextmanager
def _output_to(path: Path) -> Iterator[TextIO]:
    """Point this process's stdout and stderr (file descriptors 1 and 2, so C libraries, tqdm,
    warnings, log handlers and ``print`` all follow) at ``path``; yield a stream to the original
    stdout for the demo's own lines. Both are restored before an error reaches the console."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    console = os.fdopen(os.dup(saved_out), "w", buffering=1, encoding="utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("a", encoding="utf-8") as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            try:
                yield console
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os.dup2(saved_out, 1)
                os.dup2(saved_err, 2)
    finally:
        os.close(saved_out)
        os.close(saved_err)
        console.close()
