"""Music analysis: audio_analysis beside a plain librosa pipeline, same process, same pieces.

Usage (via benchmarks/run.sh, or directly): python -m benchmarks.analysis [N]

Accuracy on N held-out rendered pieces (the corpus's ``eval`` split; the analyser's parameters were
chosen on the disjoint ``tune`` split): key (MIREX weighted), tempo within 4 % and allowing
half/double, beat F-measure (mir_eval), and metre family for the product. Speed: seconds of audio
analysed per second of wall time (× real time), warm. Memory: peak RSS of a fresh process
analysing a 32+ minute stereo 44.1 kHz file, each pipeline in its own process.

The baseline does less than the product: it loads the whole file, runs ``beat_track`` and
``chroma_cqt`` and correlates Krumhansl profiles; the product also writes peaks, loudness, the
spectrogram, sections, metre and downbeats.

Checks (the run exits 1 after printing everything and names each one that missed): the product
beats plain librosa on key (MIREX weighted), tempo within 4 % and beat F-measure, and its peak RSS
on the long file is below plain librosa's.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks import checks

REPO = Path(__file__).resolve().parent.parent

MEMORY_PROBE = """
import json, sys, time
from pathlib import Path
path, which = Path(sys.argv[1]), sys.argv[2]
started = time.perf_counter()
if which == "product":
    import tempfile
    from audio_analysis import analyse_file
    with tempfile.TemporaryDirectory() as out:
        analyse_file(path, Path(out))
else:
    from audio_analysis.evaluation import baseline_analyse
    baseline_analyse(path)
# VmHWM, not ru_maxrss: ru_maxrss survives exec and starts at the forking parent's size.
status = Path("/proc/self/status").read_text()
rss_mb = int(status.split("VmHWM:")[1].split()[0]) / 1024
print(json.dumps({"rss_mb": rss_mb, "seconds": time.perf_counter() - started}))
"""


def _corpus_builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_corpus", REPO / "scripts" / "build_corpus.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _memory(path: Path, which: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(path), which],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(count: int) -> None:
    import soundfile as sf
    from tqdm import tqdm

    from audio_analysis import analyse_file
    from audio_analysis import evaluation as ev

    builder = _corpus_builder()
    print(f"building (or reusing) {count} eval pieces and the long file …", flush=True)
    manifest = builder.build_corpus("eval", count)
    root = manifest.parent
    records: list[dict[str, Any]] = builder.load_manifest(manifest)
    long_file = builder.build_long_file(32.0)

    # Warm both (imports, numba JIT in beat tracking): workers do this once at start.
    with tempfile.TemporaryDirectory() as out:
        analyse_file(root / records[0]["audio"], Path(out))
    ev.baseline_analyse(root / records[0]["audio"])

    product, baseline = [], []
    product_seconds = baseline_seconds = audio_seconds = 0.0
    groups: dict[str, list[int]] = {}
    for index, record in enumerate(tqdm(records, desc="pieces", unit="piece")):
        path = root / record["audio"]
        audio_seconds += sf.info(str(path)).duration
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            result = analyse_file(path, Path(out))
            product_seconds += time.perf_counter() - started
            beats = json.loads((Path(out) / result.artifacts["beats"]).read_text())["beats"]
        product.append(ev.score_piece(ev.estimate_from_product(result.facts, beats), record))
        started = time.perf_counter()
        estimate = ev.baseline_analyse(path)
        baseline_seconds += time.perf_counter() - started
        baseline.append(ev.score_piece(estimate, record))
        for group in (record["collection"], "with drums" if record["drums"] else "no drums"):
            groups.setdefault(group, []).append(index)

    ours, theirs = ev.summarise(product), ev.summarise(baseline)
    print(f"\n{len(records)} held-out pieces, {audio_seconds / 60:.1f} minutes of audio\n")
    print(f"{'':28}{'audio_analysis':>16}{'plain librosa':>16}{'ratio':>8}")
    for name, label in (
        ("key_weighted", "key (MIREX weighted)"),
        ("tempo_within_4pct", "tempo within 4 %"),
        ("tempo_half_double", "tempo, half/double ok"),
        ("beat_f", "beat F-measure"),
    ):
        print(f"{label:28}{ours[name]:16.3f}{theirs[name]:16.3f}{ours[name] / theirs[name]:8.2f}")
    print(
        f"{'metre family, when reported':28}{ours['metre_family']:16.3f}{'—':>16}"
        f"   (reported for {ours['metre_reported']:.0%} of pieces)"
    )
    ours_speed, theirs_speed = audio_seconds / product_seconds, audio_seconds / baseline_seconds
    print(f"{'speed (× real time)':28}{ours_speed:16.1f}{theirs_speed:16.1f}", end="")
    print(f"{ours_speed / theirs_speed:8.2f}")

    print("\nby group (audio_analysis / plain librosa):")
    for group, members in sorted(groups.items()):
        a = ev.summarise([product[i] for i in members])
        b = ev.summarise([baseline[i] for i in members])
        print(
            f"  {group:20} n={len(members):3d}  key {a['key_weighted']:.2f}/{b['key_weighted']:.2f}"
            f"  tempo4% {a['tempo_within_4pct']:.2f}/{b['tempo_within_4pct']:.2f}"
            f"  half/double {a['tempo_half_double']:.2f}/{b['tempo_half_double']:.2f}"
            f"  beat F {a['beat_f']:.2f}/{b['beat_f']:.2f}"
        )

    minutes = sf.info(str(long_file)).duration / 60
    print(f"\npeak memory on a {minutes:.1f}-minute stereo 44.1 kHz FLAC (fresh process each):")
    short = _memory(root / records[0]["audio"], "product")
    mine = _memory(long_file, "product")
    plain = _memory(long_file, "baseline")
    print(f"  audio_analysis: {mine['rss_mb']:.0f} MB ({mine['seconds']:.0f} s; ", end="")
    print(
        f"{short['rss_mb']:.0f} MB on a {sf.info(str(root / records[0]['audio'])).duration:.0f} s piece)"
    )
    print(f"  plain librosa:  {plain['rss_mb']:.0f} MB ({plain['seconds']:.0f} s)")
    print(f"  ratio (plain / ours): {plain['rss_mb'] / mine['rss_mb']:.2f}")

    missed = [
        f"{label}: audio_analysis {ours[name]:.3f} does not beat plain librosa {theirs[name]:.3f}"
        for name, label in (
            ("key_weighted", "key (MIREX weighted)"),
            ("tempo_within_4pct", "tempo within 4 %"),
            ("beat_f", "beat F-measure"),
        )
        if ours[name] <= theirs[name]
    ]
    if mine["rss_mb"] >= plain["rss_mb"]:
        missed.append(
            f"peak RSS: audio_analysis {mine['rss_mb']:.0f} MB is not below plain librosa's "
            f"{plain['rss_mb']:.0f} MB"
        )
    checks.finish(missed)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
