"""Measuring a checkpoint on a snapshot's eval split: generate for every GRPO-format eval row, then
score the outputs with the same reward functions, parser and hint finder the workbench uses.

Plain Python, no Django. Metrics (``score_outputs``; ``None`` where no row applies):

- ``mc_accuracy``: multiple-choice accuracy, over rows with ``options`` and a gold ``answer``;
- ``reward/<name>``: the mean of each reward function that scores a fresh output — ``format``,
  ``accuracy`` (rows with a gold answer), ``structured_thinking`` (rows with verified metadata) —
  with ``reward/<name>/rows``, how many rows it applied to. The expert rewards
  (``hallucination_penalty``, ``step_validity``, ``preference``) need reviews of the output itself,
  and nobody has reviewed an output generated for an evaluation, so they are not computed
  (``EXPERT_REWARDS``);
- ``format_compliance``: the share of outputs the parser finds well-formed with no error (no missing
  or misordered tags, not truncated, no runaway repetition) — stricter than the ``format`` reward,
  which checks the tags only;
- ``hints_per_generation`` and ``hint_rate`` (share of outputs with at least one machine hint), over
  the outputs whose row carries machine analysis facts (``hint_rows``);
- counts: ``rows``, ``generated``, ``failed``, ``mc_rows``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modeling.config import BatchingConfig, DecodingParams, ModelConfig
from modeling.hints import find_hints
from modeling.parsing import parse_generation
from modeling.rewards import reward_function

# The reward functions a fresh output can be scored with, and those that need expert reviews.
OUTPUT_REWARDS = ("format", "accuracy", "structured_thinking")
EXPERT_REWARDS = ("hallucination_penalty", "step_validity", "preference")
SAMPLES = 5


@dataclass(frozen=True)
class EvaluationResult:
    metrics: dict[str, float | int | None]
    samples: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Output:
    """One eval row's generation: its text, or why there is none."""

    row_id: str
    text: str = ""
    error: str = ""


def prompt_text(prompt: Sequence[Mapping[str, Any]]) -> str:
    """The text the user message asks (a GRPO row's ``prompt``: one user message, audio + text).

    >>> prompt_text([{"role": "user", "content": [{"type": "audio"}, {"type": "text", "text": "Tempo?"}]}])
    'Tempo?'
    """
    texts = []
    for message in prompt:
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
            continue
        texts.extend(str(p.get("text") or "") for p in content or [] if p.get("type") == "text")
    return "\n".join(t for t in texts if t)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def score_outputs(
    rows: Sequence[Mapping[str, Any]], outputs: Sequence[Output], *, samples: int = SAMPLES
) -> EvaluationResult:
    """The metrics (module docstring) of ``outputs``, aligned with ``rows``; failed outputs count
    in ``failed`` and nowhere else.

    >>> row = {"id": "q1", "answer": "b", "options": ["sitar", "sarod"], "metadata": {}, "analysis": {}}
    >>> result = score_outputs([row], [Output("q1", "<think>Frets.</think><answer>B</answer>")])
    >>> result.metrics["mc_accuracy"], result.metrics["reward/format"]
    (1.0, 1.0)
    """
    if len(rows) != len(outputs):
        raise ValueError(f"{len(outputs)} outputs for {len(rows)} rows")
    functions = {name: reward_function(name).trl for name in OUTPUT_REWARDS}
    rewards: dict[str, list[float]] = {name: [] for name in OUTPUT_REWARDS}
    choices: list[float] = []
    compliant = 0
    hint_counts: list[int] = []
    shown: list[dict[str, Any]] = []
    generated = 0
    for row, output in zip(rows, outputs, strict=True):
        if output.error:
            continue
        generated += 1
        columns = {
            "answer": [row.get("answer")],
            "options": [row.get("options")],
            "metadata": [row.get("metadata") or None],
        }
        values = {
            name: function([output.text], **columns)[0] for name, function in functions.items()
        }
        for name, value in values.items():
            if value is not None:
                rewards[name].append(value)
        if row.get("options") and values["accuracy"] is not None:
            choices.append(values["accuracy"])
        parsed = parse_generation(output.text)
        errors = [p for p in parsed["problems"] if p.get("severity") == "error"]
        compliant += bool(parsed["well_formed"] and not errors)
        hints = find_hints(parsed, row["analysis"]) if row.get("analysis") else None
        if hints is not None:
            hint_counts.append(len(hints))
        if len(shown) < samples:
            shown.append(
                {
                    "id": row.get("id"),
                    "prompt": prompt_text(row.get("prompt") or []),
                    "answer": row.get("answer"),
                    "output": output.text,
                    "rewards": values,
                    "hints": [h["message"] for h in hints or []],
                }
            )
    metrics: dict[str, float | int | None] = {
        "rows": len(rows),
        "generated": generated,
        "failed": len(rows) - generated,
        "mc_rows": len(choices),
        "mc_accuracy": _mean(choices),
        "format_compliance": compliant / generated if generated else None,
        "hint_rows": len(hint_counts),
        "hints_per_generation": _mean([float(n) for n in hint_counts]),
        "hint_rate": _mean([float(n > 0) for n in hint_counts]),
    }
    for name, applied in rewards.items():
        metrics[f"reward/{name}"] = _mean(applied)
        metrics[f"reward/{name}/rows"] = len(applied)
    return EvaluationResult(metrics, shown)


def generate_outputs(
    *,
    model: ModelConfig,
    rows: Sequence[Mapping[str, Any]],
    audio_root: Path,
    decoding: DecodingParams,
    batch_size: int = 4,
    seed: int = 0,
    backend: str = "transformers",
    on_progress: Callable[[int, int], None] | None = None,
) -> list[Output]:
    """One output per row (row ``i`` seeded ``seed + i``), or the reason it has none. The rows'
    audio paths are relative to ``audio_root``; each file is decoded once."""
    from modeling.audio import AudioPreparationError, PreparedAudio, prepare_audio
    from modeling.backends import GenerationRequest, create_backend
    from modeling.batching import generate_all

    outputs = [Output(str(row.get("id", index))) for index, row in enumerate(rows)]
    audio: dict[str, PreparedAudio] = {}
    requests = []
    done, total = 0, len(rows)
    for index, row in enumerate(rows):
        path = str(row["audio"]["path"])
        try:
            if path not in audio:
                audio[path] = prepare_audio(Path(audio_root) / path)
        except AudioPreparationError as exc:
            outputs[index] = Output(outputs[index].row_id, error=f"audio {path}: {exc}")
            done += 1
            continue
        requests.append(
            GenerationRequest(
                key=index,
                audio=audio[path],
                prompt=prompt_text(row["prompt"]),
                decoding=decoding,
                seed=seed + index,
            )
        )
    if on_progress is not None:
        on_progress(done, total)
    if not requests:  # nothing to hear: no reason to load the model
        return outputs
    generator = create_backend(backend, model)
    for results in generate_all(generator, requests, BatchingConfig(max_batch_size=batch_size)):
        for result in results:
            outputs[result.key] = Output(outputs[result.key].row_id, result.text, result.error)
        done += len(results)
        if on_progress is not None:
            on_progress(done, total)
    return outputs


def evaluate(
    *,
    checkpoint: str | ModelConfig,
    rows: Sequence[Mapping[str, Any]],
    audio_root: Path,
    decoding: DecodingParams,
    batch_size: int = 4,
    seed: int = 0,
    backend: str = "transformers",
    on_progress: Callable[[int, int], None] | None = None,
) -> EvaluationResult:
    """Generate for every GRPO-format eval row with ``checkpoint`` (a local directory, or a
    ``ModelConfig`` for a hub id pinned to a revision, a device or a dtype) and score the outputs
    (``score_outputs``). ``on_progress(done, total)`` is called as batches finish.

    Greedy ``decoding`` makes two evaluations of the same weights agree, so a parent and its child
    differ by their weights only.
    """
    model = checkpoint if isinstance(checkpoint, ModelConfig) else ModelConfig(checkpoint)
    outputs = generate_outputs(
        model=model,
        rows=rows,
        audio_root=audio_root,
        decoding=decoding,
        batch_size=batch_size,
        seed=seed,
        backend=backend,
        on_progress=on_progress,
    )
    return score_outputs(rows, outputs)
