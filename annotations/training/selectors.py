"""Reads for the training pages: the runs, a run's config and charts, and its metric history."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from annotations.training.hyperparameters import display_setting
from annotations.training.models import TrainingMetric, TrainingRun

ACTIVE = (TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING)
MAX_POINTS = 5000  # one chart reload at most; a longer run is fetched in pages by ``after``

# The charts on a run's page: (key, title, which logged values it draws).
CHARTS = (
    ("loss", "Loss", ("loss",)),
    ("learning_rate", "Learning rate", ("learning_rate",)),
    ("rewards", "Reward means", ("reward", "reward/")),
    ("steps_per_second", "Steps per second", ("steps_per_second",)),
)


def training_run_list() -> QuerySet[TrainingRun]:
    """Every run, newest first, with what its row shows (one query)."""
    return TrainingRun.objects.select_related(
        "base_version", "dataset_snapshot", "reward_profile", "launched_by", "produced_version"
    ).order_by("-created_at")


def any_run_active() -> bool:
    return TrainingRun.objects.filter(status__in=ACTIVE).exists()


def training_run_metrics(run: TrainingRun, *, after: int | None = None) -> dict[str, Any]:
    """The run's state and its logged steps after ``after`` (all when None), for the charts.

    ``points`` are ``{"step", "values"}`` in step order; the page appends them to its charts.
    """
    rows = TrainingMetric.objects.filter(run=run, kind=TrainingMetric.Kind.TRAIN)
    if after is not None:
        rows = rows.filter(step__gt=after)
    points = [
        {"step": step, "values": values}
        for step, values in rows.order_by("step").values_list("step", "values")[:MAX_POINTS]
    ]
    return {
        "run": run.pk,
        "status": run.status,
        "active": run.status in ACTIVE,
        "step": run.step,
        "total_steps": run.total_steps,
        "progress": run.progress,
        "eta_seconds": run.eta_seconds,
        "last_checkpoint_step": run.last_checkpoint_step,
        "cancel_requested": run.cancel_requested_at is not None,
        "points": points,
    }


def chart_specs() -> list[dict[str, Any]]:
    return [{"key": key, "title": title, "values": list(values)} for key, title, values in CHARTS]


def config_rows(run: TrainingRun) -> list[tuple[str, str]]:
    """The recorded hyperparameters, in the order they were recorded."""
    return [(name, display_setting(value)) for name, value in (run.config or {}).items()]
