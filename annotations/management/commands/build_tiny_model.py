"""Build the tiny random Music Flamingo into DIR and register it as a model version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.core.errors import ValidationFailed
from annotations.training.services.model_versions import model_version_register_local


class Command(BaseCommand):
    help = (
        "Build a tiny random Music Flamingo (same classes as the real model, ~80k parameters, "
        "writes gibberish) into DIR and register it as a model version."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path)
        parser.add_argument("--name", default="tiny-random-flamingo")
        parser.add_argument("--size", choices=("tiny", "large"), default="tiny")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args: Any, **options: Any) -> None:
        from modeling.tiny import build_tiny_model

        directory = build_tiny_model(
            options["directory"], size=options["size"], seed=options["seed"]
        )
        try:
            version = model_version_register_local(
                name=options["name"],
                directory=directory,
                dtype="float32",
                notes="Random weights built by build_tiny_model: for tests and the demo only.",
            )
        except ValidationFailed as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"Built {options['size']} model in {directory}; model version "
            f"{version.name} (#{version.pk}, sha256 {version.checkpoint_sha256[:12]}…)"
        )
