"""Music Flamingo generation throughput: batched (by audio length) vs one item at a time, same run.

Builds a random model of the real class (``--size tiny``: ~80k parameters, CPU; ``--size large``:
~0.6 B parameters, for a GPU), makes ``--items`` clips of mixed length, and runs them through the
product's own path (``modeling.batching.generate_all`` → ``TransformersBackend``) twice: with batch
size 1 and with the configured batch size. Every row is forced to ``--max-new-tokens`` new tokens,
so both modes do the same work. Prints audio-seconds/s and generated tokens/s and the ratio, and
exits 1 when batching is less than ``--min-speedup`` (1.2×) faster in audio-seconds/s.

No database, no Django: runs on a bare GPU box with the repository and its ``.venv``.

    python -m benchmarks.inference                                  # CPU, tiny model
    python -m benchmarks.inference --device cuda --size large       # GPU, ~0.6 B parameters
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from modeling.audio import PreparedAudio
from modeling.backends import GenerationRequest, TransformersBackend
from modeling.batching import generate_all
from modeling.config import BatchingConfig, DecodingParams, ModelConfig
from modeling.loader import load_model
from modeling.prompts import LIBRARY
from modeling.tiny import build_tiny_model, parameter_count


def clips(count: int, shortest: float, longest: float, seed: int = 0) -> list[PreparedAudio]:
    """Clips of evenly spread lengths in shuffled order: noise plus a chord, 16 kHz mono."""
    rng = np.random.default_rng(seed)
    lengths = np.linspace(shortest, longest, count)
    rng.shuffle(lengths)
    result = []
    for seconds in lengths:
        t = np.arange(int(16000 * seconds)) / 16000
        signal = sum(0.1 * np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6))
        samples = (signal + 0.02 * rng.standard_normal(len(t))).astype(np.float32)
        result.append(PreparedAudio(samples, 16000, 1, float(seconds), 0.0, float(seconds)))
    return result


def run(
    backend: TransformersBackend, requests: list[GenerationRequest], batch_size: int, windows: int
) -> dict[str, float]:
    import torch

    config = BatchingConfig(max_batch_size=batch_size, max_batch_windows=windows)
    if backend.loaded.device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    results = [r for batch in generate_all(backend, requests, config) for r in batch]
    wall = time.perf_counter() - started
    failed = [r for r in results if not r.ok]
    if failed:
        sys.exit(f"{len(failed)} item(s) failed, e.g. {failed[0].error}")
    peak = (
        torch.cuda.max_memory_allocated() / 2**30
        if backend.loaded.device.startswith("cuda")
        else 0.0
    )
    audio = sum(r.audio.heard_seconds for r in requests)
    tokens = sum(r.output_tokens for r in results)
    return {
        "wall": wall,
        "audio_per_s": audio / wall,
        "tokens_per_s": tokens / wall,
        "tokens": tokens,
        "peak_gib": peak,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--size", choices=("tiny", "large"), default="tiny")
    parser.add_argument(
        "--dtype", default="auto", help="auto (bf16 on CUDA, fp32 on CPU), bfloat16, float32"
    )
    parser.add_argument("--items", type=int, default=16)
    parser.add_argument("--shortest", type=float, default=10.0, help="seconds")
    parser.add_argument("--longest", type=float, default=120.0, help="seconds")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-batch-windows", type=int, default=80)
    parser.add_argument("--model-dir", type=Path, help="reuse a model built earlier")
    parser.add_argument(
        "--min-speedup",
        type=float,
        default=1.2,
        help="target: batched ÷ one-at-a-time audio-seconds/s",
    )
    args = parser.parse_args()

    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit(
            f"--device {args.device}: torch {torch.__version__} sees no CUDA device "
            "(a CPU-only build, or no driver)."
        )
    started = time.perf_counter()
    directory = args.model_dir or Path(tempfile.mkdtemp(prefix="bench-flamingo-")) / args.size
    if not (directory / "config.json").exists():
        build_tiny_model(directory, size=args.size)
    built = time.perf_counter() - started
    loaded = load_model(ModelConfig(str(directory), device=args.device, dtype=args.dtype))
    backend = TransformersBackend(loaded)
    decoding = DecodingParams(
        max_new_tokens=args.max_new_tokens, min_new_tokens=args.max_new_tokens, do_sample=False
    )
    prompt = next(p for p in LIBRARY if p.name == "full-caption").full_text
    audio = clips(args.items, args.shortest, args.longest)
    requests = [GenerationRequest(i, a, prompt, decoding, i) for i, a in enumerate(audio)]
    # Warm-up: first-call costs (kernels, allocator, lazy imports) are not throughput.
    list(generate_all(backend, requests[:2], BatchingConfig(max_batch_size=2)))

    device_name = torch.cuda.get_device_name() if loaded.device.startswith("cuda") else "CPU"
    print(
        f"inference benchmark: {args.size} model, {parameter_count(loaded.model):,} parameters, "
        f"{device_name} ({loaded.device}, {loaded.dtype}), built in {built:.1f}s, "
        f"loaded in {loaded.load_seconds:.1f}s; torch threads {torch.get_num_threads()}"
    )
    print(
        f"{args.items} clips of {args.shortest:g}-{args.longest:g} s "
        f"({sum(a.heard_seconds for a in audio):.0f} s of audio), "
        f"{args.max_new_tokens} new tokens each, greedy"
    )
    single = run(backend, requests, 1, args.max_batch_windows)
    batched = run(backend, requests, args.batch_size, args.max_batch_windows)
    print(f"{'mode':<26}{'wall s':>9}{'audio-s/s':>12}{'tokens/s':>11}{'peak GiB':>10}")
    for label, row in (("one at a time", single), (f"batched (<= {args.batch_size})", batched)):
        print(
            f"{label:<26}{row['wall']:>9.2f}{row['audio_per_s']:>12.1f}"
            f"{row['tokens_per_s']:>11.1f}{row['peak_gib']:>10.2f}"
        )
    speedup = batched["audio_per_s"] / single["audio_per_s"]
    print(f"batched / one at a time: {speedup:.2f}x audio-seconds/s")
    if speedup < args.min_speedup:
        sys.exit(
            f"MISSED: batched is {speedup:.2f}× one at a time (target ≥ {args.min_speedup:g}×)"
        )
    print("every check passed")


if __name__ == "__main__":
    main()
