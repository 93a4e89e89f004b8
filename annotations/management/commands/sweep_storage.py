"""``manage.py sweep_storage``: remove stored files that no database row refers to."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from annotations.songs.services.storage import DEFAULT_GRACE_SECONDS, storage_sweep_orphans


class Command(BaseCommand):
    help = "Delete orphaned audio/analysis files (left by a crash between storing and committing)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--grace-seconds",
            type=float,
            default=DEFAULT_GRACE_SECONDS,
            help="Keep files younger than this: they may belong to an import still running.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = storage_sweep_orphans(grace_seconds=options["grace_seconds"])
        for name in report.removed:
            self.stdout.write(f"removed {name}")
        self.stdout.write(f"{len(report.removed)} orphan(s) removed, {report.kept} file(s) kept")
