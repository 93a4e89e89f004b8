"""Training throughput: the workbench's runner against the bare TRL trainer, and a learning check.

Usage (via benchmarks/run.sh, which prepares the database the worker's hooks write to):

    bash benchmarks/run.sh training                     # CPU, tiny model (~80k parameters)
    bash benchmarks/run.sh training --device cuda --size large --reps 3   # GPU, ~0.6 B parameters
    python -m benchmarks.training --hooks files         # no database: the accelerate path's hooks

One process, one random model of the real class (``modeling.tiny``), one small snapshot folder
(``--songs`` real WAV tones of ``--seconds``, SFT rows with ``<think>…</think><answer>…</answer>``
targets, GRPO rows for the same prompt), the ``smoke`` preset with the sizes below.

**Throughput.** For SFT and GRPO, in alternating order (``--reps`` times; medians are printed):

* ``workbench``: ``modeling.training.runner.run_training(job, hooks)``, what the ``gpu_training``
  worker calls in-process, from the snapshot folder to merged final weights. ``--hooks django``
  (default when ``DATABASE_URL`` is set) uses the worker's own ``RunHooks`` on a real
  ``TrainingRun`` row: every step writes its ``TrainingMetric`` row and the run's progress, sends
  the websocket notification and polls for a cancel; the runner then also runs with the
  ``accelerate`` path's ``FileHooks`` (``events.jsonl`` + ``STOP``), which isolates what the
  runner itself costs. ``--hooks files`` runs only the latter (no database needed).
* ``bare TRL``: the TRL trainer built directly and ``train()`` called, nothing else: for SFT
  ``trl.SFTTrainer`` with the same ``SFTConfig`` arguments, the same rows, the same model (same
  LoRA) and the same audio collator (``SFTCollator``: stock SFT would not hear the audio at all);
  for GRPO ``AudioGRPOTrainer`` (TRL's ``GRPOTrainer`` plus the overrides that carry the audio
  into the loss, the GRPO counterpart of the collator) with the same ``GRPOConfig`` and reward
  functions. No runner, no hooks, no progress callback, no final save.
* ``stock GRPO`` (a reference, not the overhead baseline; ``--stock-reps`` runs, default 1):
  ``trl.GRPOTrainer`` unmodified, the audio given as a file path in the prompt, so the rollouts
  hear it but the loss passes do not. Its ratio is what hearing the audio in the loss costs.

Each step is timed from one step's log to the next, the same point of the loop in every mode; a
run's first step is not timed (one-off costs: lazy imports, allocator, the audio cache). Steps/s
is 1 / the median step time over all the mode's timed steps: on a shared machine a median shrugs
off the steps another process slowed down, which a total does not. Overhead = bare steps/s ÷
workbench steps/s − 1. Same seed, same rows: the runs do the same arithmetic.

**Learning check.** On a fresh tiny model: a short chain-of-thought warm-up (the paper's recipe: SFT
on formatted targets, through ``run_training`` stage ``cot``), then GRPO through ``run_training``
with the ``format`` reward alone. A random model almost never writes the exact format, and a
reward that is 0 for every completion gives GRPO no signal, hence the warm-up. The check is the
format rate of ``--learn-eval-samples`` (200) completions sampled from the warmed-up model and
from the GRPO-trained one (the same seeds, temperature 1, through the product's evaluation path):
it must rise by at least ``--min-gain`` (0.1; the standard error of the difference is ~0.05). The
mean format reward of the first and last ``--learn-window`` training steps is printed too, but not
judged: 50 completions each, it moves by ±0.1 between runs that learn equally.

**Checks.** The run exits 1, after printing everything, when a check misses, and names each one
that missed: every workbench row's overhead must be under ``--max-overhead`` (5 %, issue 7's
target) in each stage, and the learning check's format rate must rise by ``--min-gain`` (0.1; the
seeded run reproduces exactly on the same machine and code). On a shared
2-core machine the steps/s of equal runs differ by up to ~10 %, so the overhead check can miss on
noise; the per-rep ranges printed beside it show when it did.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import checks
from modeling.tiny import build_tiny_model, parameter_count
from modeling.training.config import TrainingConfig, common_training_args, training_config
from modeling.training.runner import (
    Hooks,
    TrainingHooks,
    TrainingJob,
    _device,
    load_for_training,
    run_training,
)

PROMPT = "Describe this track. Think first."
TARGETS = (  # short, so a tiny model learns them in a few dozen steps
    "<think>Step 1: drums.</think><answer>A rock song.</answer>",
    "<think>Step 2: bass.</think><answer>A waltz.</answer>",
    "<think>Step 1: tabla.</think><answer>A raga.</answer>",
    "<think>Step 2: vocals.</think><answer>A samba.</answer>",
)


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "audio"}, {"type": "text", "text": text}]}


def make_snapshot(root: Path, *, songs: int, seconds: float) -> tuple[Path, Path]:
    """A snapshot folder (the contract's layout) under ``root``; returns (dataset_dir, audio_root)."""
    import numpy as np
    import soundfile

    (root / "audio").mkdir(parents=True, exist_ok=True)
    sft, grpo = [], []
    for index in range(songs):
        t = np.arange(int(16000 * seconds)) / 16000
        freq = 220.0 * 2 ** (index / 12)
        tone = (0.3 * np.exp(-6 * (t % 0.5)) * np.sin(2 * np.pi * freq * t)).astype("float32")
        relative = f"audio/song-{index}.wav"
        soundfile.write(str(root / relative), tone, 16000)
        audio = {
            "path": relative,
            "sha256": hashlib.sha256((root / relative).read_bytes()).hexdigest(),
        }
        base = {"song_id": index + 1, "audio": audio, "genre": "", "culture": ""}
        target = TARGETS[index % len(TARGETS)]
        sft.append(
            {
                **base,
                "id": f"sft-{index}",
                "messages": [
                    user(PROMPT),
                    {"role": "assistant", "content": [{"type": "text", "text": target}]},
                ],
                "source": "accepted_trace",
            }
        )
        grpo.append(
            {
                **base,
                "id": f"grpo-{index}",
                "prompt": [user(PROMPT)],
                "answer": None,
                "options": None,
                "metadata": {"tempo_bpm": 120.0},
                "analysis": {},
                "source": "caption",
            }
        )
    dataset_dir = root / "datasets" / "bench"
    for fmt, rows in (("sft", sft), ("grpo", grpo), ("dpo", [])):
        for split, chosen in (("train", rows), ("eval", rows[:1])):
            path = dataset_dir / fmt / f"{split}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in chosen))
    (dataset_dir / "manifest.json").write_text(json.dumps({"name": "bench"}))
    return dataset_dir, root


# --- Timing ------------------------------------------------------------------------------------


class Clock:
    """(step, time) at each per-step log."""

    def __init__(self) -> None:
        self.marks: list[tuple[int, float]] = []

    def mark(self, step: int) -> None:
        self.marks.append((step, time.perf_counter()))

    def step_seconds(self) -> list[float]:
        """The duration of every step after the first (from one step's log to the next)."""
        if len(self.marks) < 2:
            raise RuntimeError("need at least two logged steps to time")
        return [
            (t1 - t0) / (s1 - s0)
            for (s0, t0), (s1, t1) in zip(self.marks, self.marks[1:], strict=False)
        ]


class TimedHooks(TrainingHooks):
    """The run's hooks, with the clock read when the runner reports a step and the time spent in
    the per-step hooks (``on_log``, ``should_stop``) added up."""

    def __init__(self, inner: Hooks, clock: Clock) -> None:
        self.inner, self.clock = inner, clock
        self.seconds = 0.0

    def _timed(self, call: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        try:
            return call()
        finally:
            self.seconds += time.perf_counter() - started

    def on_start(self, *, total_steps: int, resumed_from_step: int) -> None:
        self.inner.on_start(total_steps=total_steps, resumed_from_step=resumed_from_step)

    def on_log(self, *, step: int, total_steps: int, values: dict[str, float]) -> None:
        self.clock.mark(step)
        self._timed(lambda: self.inner.on_log(step=step, total_steps=total_steps, values=values))

    def on_checkpoint(self, *, step: int, path: Path) -> None:
        self.inner.on_checkpoint(step=step, path=path)

    def should_stop(self) -> bool:
        return bool(self._timed(self.inner.should_stop))


def clock_callback(clock: Clock) -> Any:
    """The same clock for a bare trainer, read at the same point: its per-step log."""
    from transformers import TrainerCallback

    class ClockCallback(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            if logs and "train_runtime" not in logs:
                clock.mark(state.global_step)

    return ClockCallback()


# --- Hooks -------------------------------------------------------------------------------------


def django_hooks(stage: str, model_dir: Path) -> Callable[[], Hooks]:
    """A factory of the worker's ``RunHooks`` on a fresh ``TrainingRun`` row per run."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workbench.settings")
    django.setup()
    from django.contrib.auth.models import User

    from annotations.datasets.models import DatasetSnapshot
    from annotations.generations.models import ModelVersion
    from annotations.training.models import TrainingRun
    from annotations.training.services.execution import RunHooks

    admin, _ = User.objects.get_or_create(username="bench-trainer")
    version, _ = ModelVersion.objects.get_or_create(
        name="bench-tiny", defaults={"checkpoint_uri": str(model_dir)}
    )
    snapshot, _ = DatasetSnapshot.objects.get_or_create(
        name="bench-training", defaults={"status": DatasetSnapshot.Status.FROZEN}
    )

    def make() -> Hooks:
        run = TrainingRun.objects.create(
            stage=stage,
            base_version=version,
            dataset_snapshot=snapshot,
            status=TrainingRun.Status.RUNNING,
            launched_by=admin,
        )
        return RunHooks(run)

    return make


def file_hooks(output_dir: Path) -> TrainingHooks:
    from modeling.training.__main__ import FileHooks

    return FileHooks(output_dir)


# --- The modes ---------------------------------------------------------------------------------


def workbench(job: TrainingJob, hooks: Hooks) -> dict[str, Any]:
    clock = Clock()
    timed = TimedHooks(hooks, clock)
    started = time.perf_counter()
    result = run_training(job, timed)
    if result.status != "completed":
        sys.exit(f"the workbench run ended {result.status}")
    return {
        "steps": clock.step_seconds(),
        "wall": time.perf_counter() - started,
        "hooks_ms_per_step": timed.seconds * 1000 / result.step,
    }


def bare(job: TrainingJob, *, stock: bool = False) -> dict[str, Any]:
    with _device(job.device):  # the runner's device pinning (a CPU job on a GPU machine)
        return _bare(job, stock=stock)


def _bare(job: TrainingJob, *, stock: bool) -> dict[str, Any]:
    from transformers import set_seed

    from modeling.training.data import audio_loader, load_rows

    config = job.config
    set_seed(config.seed)
    clock = Clock()
    started = time.perf_counter()
    rows = load_rows(job.dataset_dir, "sft" if config.stage == "sft" else "grpo", "train")
    model, processor = load_for_training(job)
    load = audio_loader(job.audio_root, config.max_audio_seconds)
    if config.stage == "sft":
        from trl import SFTConfig, SFTTrainer

        from modeling.training.collators import SFTCollator

        trainer: Any = SFTTrainer(
            model=model,
            args=SFTConfig(
                **common_training_args(config, job.checkpoints_dir),
                dataset_kwargs={"skip_prepare_dataset": True},
                max_length=None,
                packing=False,
            ),
            train_dataset=rows,
            processing_class=processor,
            data_collator=SFTCollator(processor, load, config.max_length),
            callbacks=[clock_callback(clock)],
        )
    else:
        from modeling.training.grpo import grpo_args, reward_functions

        funcs, weights = reward_functions(job.reward_weights)
        kwargs = {
            "model": model,
            "reward_funcs": funcs,
            "args": grpo_args(config, job.checkpoints_dir, weights),
            "processing_class": processor,
            "callbacks": [clock_callback(clock)],
        }
        if stock:
            from trl import GRPOTrainer

            root = job.audio_root

            def with_path(row: dict[str, Any]) -> dict[str, Any]:
                text = row["prompt"][0]["content"][1]
                audio = {"type": "audio", "path": str(root / row["audio"]["path"])}
                return {"prompt": [{"role": "user", "content": [audio, text]}]}

            model.config.image_token_id = model.config.audio_token_id
            trainer = GRPOTrainer(train_dataset=rows.map(with_path), **kwargs)
        else:
            from modeling.training.grpo import AudioGRPOTrainer

            trainer = AudioGRPOTrainer(train_dataset=rows, audio_loader=load, **kwargs)
    trainer.train()
    return {"steps": clock.step_seconds(), "wall": time.perf_counter() - started}


# --- Learning check ----------------------------------------------------------------------------


class Recorder(TrainingHooks):
    def __init__(self) -> None:
        self.logs: list[dict[str, float]] = []

    def on_log(self, *, step: int, total_steps: int, values: dict[str, float]) -> None:
        self.logs.append(values)


def learning_check(
    model_dir: Path, dataset_dir: Path, audio_root: Path, work: Path, args: argparse.Namespace
) -> dict[str, Any]:
    def job(stage: str, base: Path, out: str, overrides: dict[str, Any], rewards: dict) -> Any:
        return TrainingJob(
            base_checkpoint=str(base),
            base_revision=None,
            dataset_dir=dataset_dir,
            audio_root=audio_root,
            output_dir=work / out,
            config=training_config(stage, preset="smoke", use_lora=False, overrides=overrides),
            reward_weights=rewards,
            device=args.device,
        )

    started = time.perf_counter()
    warm = Recorder()
    warmed = run_training(
        job(
            "cot",
            model_dir,
            "learn-cot",
            {
                "max_steps": args.warmup_steps,
                "learning_rate": args.warmup_lr,
                "per_device_train_batch_size": 4,
            },
            {},
        ),
        warm,
    )
    assert warmed.final_dir is not None
    grpo = Recorder()
    trained = run_training(
        job(
            "grpo",
            warmed.final_dir,
            "learn-grpo",
            {
                "max_steps": args.learn_steps,
                "learning_rate": args.learn_lr,
                "per_device_train_batch_size": 10,
                "max_completion_length": args.learn_completion_length,
                "beta": 0.0,
            },
            {"format": 1.0},
        ),
        grpo,
    )
    rewards = [values.get("reward/format", float("nan")) for values in grpo.logs]
    window = args.learn_window
    assert trained.final_dir is not None
    return {
        "before": format_rate(warmed.final_dir, dataset_dir, audio_root, args),
        "after": format_rate(trained.final_dir, dataset_dir, audio_root, args),
        "warmup_steps": args.warmup_steps,
        "warmup_loss": (warm.logs[0]["loss"], warm.logs[-1]["loss"]),
        "steps": len(rewards),
        "start": statistics.fmean(rewards[:window]),
        "end": statistics.fmean(rewards[-window:]),
        "per_step": rewards,
        "wall": time.perf_counter() - started,
    }


def format_rate(
    checkpoint: Path, dataset_dir: Path, audio_root: Path, args: argparse.Namespace
) -> float:
    """The mean format reward of ``--learn-eval-samples`` completions of ``checkpoint`` for the
    snapshot's GRPO prompts, sampled as GRPO samples (temperature 1, no top-p/top-k, the same
    length limit), through the product's evaluation path; each completion has its own seed, the
    same seeds for every checkpoint."""
    from modeling.config import DecodingParams, ModelConfig
    from modeling.training.data import load_rows
    from modeling.training.evaluation import generate_outputs, score_outputs

    prompts = list(load_rows(dataset_dir, "grpo", "train"))
    rows = [prompts[i % len(prompts)] for i in range(args.learn_eval_samples)]
    outputs = generate_outputs(
        model=ModelConfig(str(checkpoint), device=args.device),
        rows=rows,
        audio_root=audio_root,
        decoding=DecodingParams(
            max_new_tokens=args.learn_completion_length, temperature=1.0, top_p=1.0, top_k=0
        ),
        batch_size=10,
    )
    rate = score_outputs(rows, outputs).metrics["reward/format"]
    return float(rate) if rate is not None else 0.0


# --- Main --------------------------------------------------------------------------------------


def stage_config(stage: str, args: argparse.Namespace) -> TrainingConfig:
    if stage == "sft":
        overrides = {"max_steps": args.sft_steps, "per_device_train_batch_size": 2}
    else:
        overrides = {
            "max_steps": args.grpo_steps,
            "per_device_train_batch_size": 10,  # 2 prompts × group size 5
            "max_completion_length": args.max_completion_length,
        }
    return training_config(
        stage,
        preset="smoke",
        use_lora=not args.full,
        overrides={**overrides, "max_audio_seconds": args.seconds},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--size", choices=("tiny", "large"), default="tiny")
    parser.add_argument("--model-dir", type=Path, help="reuse a model built earlier")
    parser.add_argument(
        "--hooks",
        choices=("django", "files"),
        default="django" if os.environ.get("DATABASE_URL") else "files",
    )
    parser.add_argument("--reps", type=int, default=5, help="alternating repetitions per mode")
    parser.add_argument("--stages", default="sft,grpo", help="which throughput stages to run")
    parser.add_argument("--songs", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0, help="audio per song")
    parser.add_argument("--sft-steps", type=int, default=8)
    parser.add_argument("--grpo-steps", type=int, default=4)
    parser.add_argument("--max-completion-length", type=int, default=24)
    parser.add_argument("--full", action="store_true", help="full fine-tuning instead of LoRA")
    parser.add_argument("--stock-reps", type=int, default=1, help="stock GRPO reference runs")
    parser.add_argument("--no-learning", action="store_true", help="skip the learning check")
    parser.add_argument("--warmup-steps", type=int, default=42)
    parser.add_argument("--warmup-lr", type=float, default=1e-2)
    parser.add_argument("--learn-steps", type=int, default=20)
    parser.add_argument("--learn-lr", type=float, default=1e-3)
    parser.add_argument("--learn-completion-length", type=int, default=48)
    parser.add_argument("--learn-window", type=int, default=5, help="steps averaged at each end")
    parser.add_argument(
        "--learn-eval-samples",
        type=int,
        default=200,
        help="completions sampled from the model before and after GRPO to measure its format rate",
    )
    parser.add_argument(
        "--max-overhead", type=float, default=5.0, help="target: workbench overhead below this %%"
    )
    parser.add_argument(
        "--min-gain",
        type=float,
        default=0.1,
        help="target: the learning check's format rate after GRPO exceeds the rate before by at "
        "least this",
    )
    args = parser.parse_args()

    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit(f"--device {args.device}: torch {torch.__version__} sees no CUDA device")
    work = Path(tempfile.mkdtemp(prefix="bench-training-"))
    started = time.perf_counter()
    model_dir = args.model_dir or work / f"model-{args.size}"
    if not (model_dir / "config.json").exists():
        build_tiny_model(model_dir, size=args.size)
    dataset_dir, audio_root = make_snapshot(
        work / "storage", songs=args.songs, seconds=args.seconds
    )
    built = time.perf_counter() - started

    from transformers import MusicFlamingoForConditionalGeneration

    parameters = parameter_count(MusicFlamingoForConditionalGeneration.from_pretrained(model_dir))
    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU"
    print(
        f"training benchmark: {args.size} model, {parameters:,} parameters, {device_name}, "
        f"{'full fine-tuning' if args.full else 'LoRA'}, hooks: {args.hooks}, built in "
        f"{built:.1f}s; torch threads {torch.get_num_threads()}"
    )
    print(
        f"{args.songs} songs × {args.seconds:g} s; SFT {args.sft_steps} steps of 2 rows; GRPO "
        f"{args.grpo_steps} steps of 2 prompts × 5 completions ≤ {args.max_completion_length} "
        f"tokens (format, accuracy, structured_thinking); {args.reps} alternating reps"
    )

    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    counter = 0
    stages = [stage for stage in ("sft", "grpo") if stage in args.stages.split(",")]
    for stage in stages:
        config = stage_config(stage, args)
        make_hooks = django_hooks(stage, model_dir) if args.hooks == "django" else None
        for rep in range(args.reps):
            # With the worker's hooks, the runner also runs with the file hooks: what the
            # runner itself costs, apart from the database writes and notifications.
            modes = ["workbench", "files", "bare"] if make_hooks else ["workbench", "bare"]
            if stage == "grpo" and rep < args.stock_reps:
                modes.append("stock")
            for mode in modes if rep % 2 == 0 else list(reversed(modes)):
                counter += 1
                job = TrainingJob(
                    base_checkpoint=str(model_dir),
                    base_revision=None,
                    dataset_dir=dataset_dir,
                    audio_root=audio_root,
                    output_dir=work / f"run-{counter}",
                    config=config,
                    reward_weights={"format": 1.0, "accuracy": 1.0, "structured_thinking": 1.0}
                    if stage == "grpo"
                    else {},
                    device=args.device,
                )
                # TRL prints each log record; the table alone goes to stdout.
                with contextlib.redirect_stdout(sys.stderr):
                    if mode in ("workbench", "files"):
                        if make_hooks is not None and mode == "workbench":
                            hooks = make_hooks()
                        else:
                            hooks = file_hooks(job.output_dir)
                        row = workbench(job, hooks)
                    else:
                        row = bare(job, stock=mode == "stock")
                results.setdefault((stage, mode), []).append(row)
                print(
                    f"  {stage} {mode:<9} rep {rep + 1}: "
                    f"{1 / statistics.median(row['steps']):.3f} steps/s",
                    file=sys.stderr,
                )

    print()
    print(
        f"{'stage':<6}{'mode':<38}{'steps/s':>8}{'per rep':>18}{'steps':>6}{'wall s':>8}"
        f"{'hooks ms/step':>14}{'overhead':>10}"
    )
    labels = {
        "workbench": "workbench run_training + RunHooks"
        if args.hooks == "django"
        else "workbench run_training + FileHooks",
        "files": "workbench run_training + FileHooks",
        "bare": "bare TRL trainer",
        "stock": "stock GRPOTrainer (no audio in loss)",
    }

    def rate(rows: list[dict[str, Any]]) -> float:
        return 1 / statistics.median(d for r in rows for d in r["steps"])

    missed: list[str] = []
    for stage in stages:
        baseline = rate(results[(stage, "bare")])
        for mode in ("workbench", "files", "bare", "stock"):
            rows = results.get((stage, mode))
            if not rows:
                continue
            per_rep = [rate([r]) for r in rows]
            hooks_ms = (
                f"{statistics.median(r['hooks_ms_per_step'] for r in rows):.1f}"
                if mode in ("workbench", "files")
                else "-"
            )
            if mode in ("workbench", "files"):
                overhead = (baseline / rate(rows) - 1) * 100
                note = f"{overhead:+.1f} %"
                if overhead >= args.max_overhead:
                    missed.append(
                        f"{stage} overhead of {labels[mode]}: {overhead:+.1f} % "
                        f"(target < {args.max_overhead:g} %)"
                    )
            elif mode == "stock":
                note = f"({(rate(rows) / baseline - 1) * 100:+.0f} %)"
            else:
                note = "baseline"
            print(
                f"{stage:<6}{labels[mode]:<38}{rate(rows):>8.3f}"
                f"{f'{min(per_rep):.3f}-{max(per_rep):.3f}':>18}"
                f"{sum(len(r['steps']) for r in rows):>6}"
                f"{statistics.median(r['wall'] for r in rows):>8.1f}"
                f"{hooks_ms:>14}{note:>10}"
            )
    print(
        "steps/s = 1 / the median step time over every timed step of the mode's runs (steps: how "
        "many; each run's first step is not timed); per rep: each run's own figure. overhead = "
        f"bare steps/s ÷ workbench steps/s − 1 (target < {args.max_overhead:g} %); hooks ms/step: "
        "time inside the "
        "run's hooks (database writes, notification, cancel poll) per step. The stock row's figure is its "
        "speed-up over the bare trainer from not hearing the audio in the loss. wall s: the whole "
        "call (load, build, train; the runner also merges and saves final/)."
    )

    if not args.no_learning:
        missed.extend(report_learning(model_dir, dataset_dir, audio_root, work, args))
    checks.finish(missed)


def report_learning(
    model_dir: Path, dataset_dir: Path, audio_root: Path, work: Path, args: argparse.Namespace
) -> list[str]:
    """Run and print the learning check; what it missed, if anything."""
    with contextlib.redirect_stdout(sys.stderr):
        check = learning_check(model_dir, dataset_dir, audio_root, work, args)
    gain = check["after"] - check["before"]
    print()
    print(
        f"learning check: CoT warm-up {check['warmup_steps']} steps (loss "
        f"{check['warmup_loss'][0]:.2f} → {check['warmup_loss'][1]:.2f}), then GRPO with the "
        f"format reward alone, {check['steps']} steps of 2 prompts × 5, full fine-tuning, "
        f"lr {args.learn_lr:g}, β 0 ({check['wall']:.0f} s)"
    )
    print(
        f"format rate of {args.learn_eval_samples} sampled completions: before GRPO "
        f"{check['before']:.3f} → after {check['after']:.3f}: gain {gain:+.3f} "
        f"(target ≥ +{args.min_gain:g}: {'raised' if gain >= args.min_gain else 'NOT raised'})"
    )
    print(
        f"mean format reward during training (not judged): first {args.learn_window} steps "
        f"{check['start']:.2f} → last {args.learn_window} steps {check['end']:.2f}; per step: "
        + " ".join(f"{v:.1f}" for v in check["per_step"])
    )
    if gain >= args.min_gain:
        return []
    return [
        f"learning check: GRPO raised the format rate of {args.learn_eval_samples} sampled "
        f"completions by {gain:+.3f} ({check['before']:.3f} → {check['after']:.3f}; target ≥ "
        f"+{args.min_gain:g})"
    ]


if __name__ == "__main__":
    main()
