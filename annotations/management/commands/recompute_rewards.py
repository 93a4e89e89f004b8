"""Recompute every reward of every finished generation (or of some), set-based, with a progress bar.

Run after a reward function's version changed, after a bulk import of reviews, or to check that
stored rewards are reproducible: an unchanged database rewrites nothing ("unchanged" counts them).
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from annotations.rewards.services.rewards import BATCH_SIZE, rewards_recompute


class Command(BaseCommand):
    help = "Recompute stored rewards and composites in batches (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--generation", type=int, action="append", default=None, help="Only this id (repeat)."
        )
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
        parser.add_argument(
            "--processes",
            type=int,
            default=1,
            help="Worker processes (PostgreSQL; one core each). Default 1.",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1 or options["processes"] < 1:
            self.stderr.write("--batch-size and --processes must be at least 1.")
            raise SystemExit(2)
        with tqdm(
            total=0, unit="gen", desc="Rewards", disable=options["no_progress"], file=self.stderr
        ) as bar:

            def on_progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            stats = rewards_recompute(
                generation_ids=options["generation"],
                batch_size=options["batch_size"],
                on_progress=on_progress,
                processes=options["processes"],
            )
        self.stdout.write(
            f"{stats.generations:,} generation(s): {stats.written:,} reward row(s) written, "
            f"{stats.unchanged:,} unchanged, {stats.deleted:,} no longer applicable; "
            f"{stats.composites_written:,} composite(s) written."
        )
