"""Reads for the model pages: a version's lineage and its evaluations beside its parent's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count

from annotations.generations.models import ModelVersion
from annotations.training.models import ModelEvaluation, TrainingRun


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    higher_is_better: bool | None  # None: a count, neither better nor worse
    percent: bool = False


# What the comparison shows, in order (keys of ModelEvaluation.metrics; see
# modeling.training.evaluation for their definitions).
METRICS = (
    Metric("mc_accuracy", "Multiple-choice accuracy", True, percent=True),
    Metric("reward/format", "Reward: format (mean)", True),
    Metric("reward/accuracy", "Reward: accuracy (mean)", True),
    Metric("reward/structured_thinking", "Reward: structured thinking (mean)", True),
    Metric("format_compliance", "Format compliance", True, percent=True),
    Metric("hints_per_generation", "Machine hints per generation", False),
    Metric("hint_rate", "Outputs with a machine hint", False, percent=True),
    Metric("rows", "Eval rows", None),
    Metric("generated", "Outputs generated", None),
    Metric("failed", "Rows without output", None),
    Metric("mc_rows", "Multiple-choice rows", None),
)
ACTIVE = (ModelEvaluation.Status.QUEUED, ModelEvaluation.Status.RUNNING)


@dataclass(frozen=True)
class MetricRow:
    metric: Metric
    value: float | None
    parent_value: float | None

    @property
    def difference(self) -> float | None:
        if self.value is None or self.parent_value is None:
            return None
        return self.value - self.parent_value

    @property
    def verdict(self) -> str:
        """ "better", "worse" or "" (no difference, no parent figure, or a count)."""
        difference = self.difference
        if not difference or self.metric.higher_is_better is None:
            return ""
        return "better" if (difference > 0) == self.metric.higher_is_better else "worse"


@dataclass(frozen=True)
class Comparison:
    """One evaluation of the version and its parent's on the same snapshot and split."""

    evaluation: ModelEvaluation
    parent_evaluation: ModelEvaluation | None
    rows: list[MetricRow]

    @property
    def active(self) -> bool:
        return any(e is not None and e.status in ACTIVE for e in self.evaluations)

    @property
    def evaluations(self) -> list[ModelEvaluation | None]:
        return [self.evaluation, self.parent_evaluation]

    @property
    def decodings_differ(self) -> bool:
        if self.parent_evaluation is None:
            return False
        return (self.evaluation.metrics or {}).get("decoding") != (
            self.parent_evaluation.metrics or {}
        ).get("decoding")


def _number(metrics: dict[str, Any] | None, key: str) -> float | None:
    value = (metrics or {}).get(key)
    return float(value) if isinstance(value, int | float) else None


def evaluation_comparisons(version: ModelVersion) -> list[Comparison]:
    """Each evaluation of ``version`` (newest first) beside its parent's on the same snapshot and
    split; two queries."""
    evaluations = list(
        ModelEvaluation.objects.filter(model_version=version)
        .select_related("snapshot")
        .order_by("-created_at", "-pk")
    )
    parents: dict[tuple[int, str], ModelEvaluation] = {}
    if version.parent_id is not None and evaluations:
        parents = {
            (e.snapshot_id, e.split): e
            for e in ModelEvaluation.objects.filter(
                model_version_id=version.parent_id,
                snapshot_id__in={e.snapshot_id for e in evaluations},
            )
        }
    comparisons = []
    for evaluation in evaluations:
        parent = parents.get((evaluation.snapshot_id, evaluation.split))
        parent_metrics = parent.metrics if parent is not None else None
        rows = [
            MetricRow(m, _number(evaluation.metrics, m.key), _number(parent_metrics, m.key))
            for m in METRICS
        ]
        comparisons.append(Comparison(evaluation, parent, rows))
    return comparisons


def model_version_detail(version: ModelVersion) -> dict[str, Any]:
    """What the version page shows besides the row: its run (with snapshot and reward profile),
    its children, how many generations used it, and the evaluations against the parent."""
    run = (
        TrainingRun.objects.select_related("dataset_snapshot", "reward_profile", "launched_by")
        .filter(pk=version.training_run_id)
        .first()
        if version.training_run_id is not None
        else None
    )
    comparisons = evaluation_comparisons(version)
    return {
        "run": run,
        "children": list(
            version.children.annotate(generation_count=Count("generations")).order_by("created_at")
        ),
        "generation_count": version.generations.count(),
        "comparisons": comparisons,
        "evaluations_active": any(c.active for c in comparisons),
    }


@dataclass(frozen=True)
class LineageRow:
    version: ModelVersion
    depth: int
    generation_count: int


def model_version_lineage() -> list[LineageRow]:
    """Every model version as a tree (roots first, children indented under their parent)."""
    versions = list(
        ModelVersion.objects.select_related("training_run__dataset_snapshot").annotate(
            generation_count=Count("generations")
        )
    )
    children: dict[int | None, list[ModelVersion]] = {}
    for version in versions:
        children.setdefault(version.parent_id, []).append(version)
    rows: list[LineageRow] = []

    def walk(parent_id: int | None, depth: int) -> None:
        for version in sorted(children.get(parent_id, []), key=lambda v: v.created_at):
            rows.append(LineageRow(version, depth, version.generation_count))  # type: ignore[attr-defined]
            walk(version.pk, depth + 1)

    walk(None, 0)
    return rows
