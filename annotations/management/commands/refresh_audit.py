"""Rebuild the audit's fact tables from every submitted review, in batches, with a progress bar.

Submits keep the facts current on their own; run this after a bulk import of reviews, after
editing a category's aspect or kind in the admin, or once after deploying the audit (migration 0010
starts the tables empty).
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from annotations.audit.services import BATCH_SIZE, audit_refresh_all


class Command(BaseCommand):
    help = "Rebuild the audit fact tables from submitted reviews (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            self.stderr.write("--batch-size must be at least 1.")
            raise SystemExit(2)
        with tqdm(
            total=0,
            unit="review",
            desc="Audit facts",
            disable=options["no_progress"],
            file=self.stderr,
        ) as bar:

            def on_progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            stats = audit_refresh_all(batch_size=options["batch_size"], on_progress=on_progress)
        self.stdout.write(
            f"{stats.reviews:,} submitted review(s) and {stats.flags:,} flag(s) written; "
            f"{stats.removed:,} stale review fact(s) removed."
        )
