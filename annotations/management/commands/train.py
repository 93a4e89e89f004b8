"""Launch a training run from the command line: queue it for the gpu_training workers, or run it
here with --wait (in this process, with a progress bar)."""

from __future__ import annotations

import threading
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections
from tqdm import tqdm

from annotations.core.errors import ValidationFailed
from annotations.datasets.models import DatasetSnapshot
from annotations.generations.models import ModelVersion
from annotations.rewards.models import RewardProfile
from annotations.training.models import TrainingRun
from annotations.training.services.creation import training_run_create
from annotations.training.services.execution import training_run_execute


class Command(BaseCommand):
    help = (
        "Launch a training stage (sft, cot, grpo, dpo) from a base model version on a frozen "
        "dataset snapshot. Without --wait it is queued for the gpu_training workers."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--stage", required=True, choices=[s for s, _ in TrainingRun.Stage.choices]
        )
        parser.add_argument("--base", required=True, help="Base model version: name or id.")
        parser.add_argument("--snapshot", required=True, help="Frozen snapshot: name or id.")
        parser.add_argument(
            "--profile", help="GRPO reward profile: NAME (latest version) or NAME:VERSION."
        )
        parser.add_argument(
            "--preset", default="paper", help="Hyperparameter preset (default paper)."
        )
        parser.add_argument("--full", action="store_true", help="Full fine-tuning instead of LoRA.")
        parser.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="Override one hyperparameter (repeatable), e.g. --set max_steps=100.",
        )
        parser.add_argument(
            "--wait", action="store_true", help="Train here, in this process, with a progress bar."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from annotations.training.forms import hyperparameter_fields
        from annotations.training.hyperparameters import coerce_setting

        types = dict(hyperparameter_fields())
        overrides: dict[str, Any] = {}
        for item in options["set"]:
            key, sep, raw = item.partition("=")
            key = key.strip()
            if not sep or key not in types:
                known = ", ".join(types)
                raise CommandError(f"--set {item!r}: use KEY=VALUE with KEY one of {known}.")
            try:
                overrides[key] = coerce_setting(key, types[key], raw)
            except ValueError as exc:
                raise CommandError(f"--set {item!r}: {exc}.") from None
        try:
            run = training_run_create(
                stage=options["stage"],
                base_version=_by_name_or_id(ModelVersion, options["base"], "model version"),
                snapshot=_by_name_or_id(DatasetSnapshot, options["snapshot"], "snapshot"),
                reward_profile=_profile(options["profile"]) if options["profile"] else None,
                preset=options["preset"],
                use_lora=not options["full"],
                overrides=overrides,
                enqueue=not options["wait"],
            )
        except ValidationFailed as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"Created {run} (id {run.pk}); files in {run.output_dir}.")
        if not options["wait"]:
            self.stdout.write("Queued for the gpu_training workers.")
            return
        run = _run_with_bar(run)
        self.stdout.write(f"{run}: {run.get_status_display()} at step {run.step}.")
        if run.status == TrainingRun.Status.FAILED:
            raise CommandError(run.error)
        version = getattr(run, "produced_version", None)
        if version is not None:
            self.stdout.write(f"New model version: {version.name} (id {version.pk}).")


def _run_with_bar(run: TrainingRun) -> TrainingRun:
    """Train in this process; a thread reads the run's row to move the bar (the database is the
    truth here too)."""
    done = threading.Event()

    def follow() -> None:
        try:
            with tqdm(total=run.total_steps or None, unit="step", desc=str(run)) as bar:
                while not done.wait(1.0):
                    row = (
                        TrainingRun.objects.filter(pk=run.pk).values("step", "total_steps").first()
                    )
                    if row is None:
                        return
                    if row["total_steps"] and bar.total != row["total_steps"]:
                        bar.total = row["total_steps"]
                        bar.refresh()
                    bar.update(row["step"] - bar.n)
        finally:
            connections.close_all()

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    try:
        training_run_execute(run_id=run.pk, task_id=f"command-{time.time_ns()}")
    finally:
        done.set()
        thread.join(timeout=5)
    return TrainingRun.objects.get(pk=run.pk)


def _by_name_or_id(model: Any, ref: str, label: str) -> Any:
    found = model.objects.filter(pk=int(ref)).first() if ref.isdigit() else None
    found = found or model.objects.filter(name=ref).first()
    if found is None:
        raise CommandError(f"No {label} {ref!r}.")
    return found


def _profile(ref: str) -> RewardProfile:
    name, _, version = ref.partition(":")
    profiles = RewardProfile.objects.filter(name=name)
    profile = (
        profiles.filter(version=int(version)).first()
        if version.isdigit()
        else profiles.order_by("-version").first()
    )
    if profile is None:
        raise CommandError(f"No reward profile {ref!r}.")
    return profile
