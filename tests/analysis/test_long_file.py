"""A 30+ minute stereo 44.1 kHz file is analysed in bounded memory, with browser-sized artifacts.

Real recordings (Debian's asc-music songs, looped to 32 minutes) when installed, else rendered
pieces. Memory is the peak resident set of a fresh process, against the same process shape
analysing a 30-second file: decoding 32 minutes whole would add ~680 MB of float32 samples alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from audio_analysis import render

REPO = Path(__file__).resolve().parents[2]
PROBE = (
    "import json, sys\n"
    "from pathlib import Path\n"
    "from audio_analysis import analyse_file\n"
    "result = analyse_file(Path(sys.argv[1]), Path(sys.argv[2]))\n"
    # VmHWM, not ru_maxrss: ru_maxrss survives exec and starts at the forking parent's size.
    "status = Path('/proc/self/status').read_text()\n"
    "rss = int(status.split('VmHWM:')[1].split()[0]) / 1024\n"
    "print(json.dumps({'rss_mb': rss, 'facts': result.facts, 'artifacts': result.artifacts}))\n"
)


def _analyse_in_fresh_process(path: Path, out: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(path), str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.corpus
@pytest.mark.timeout(900)
def test_a_32_minute_file_is_analysed_in_bounded_memory(
    long_file: Path,
    drum_piece: tuple[Path, dict[str, Any]],
    tmp_path: Path,
) -> None:
    short = _analyse_in_fresh_process(drum_piece[0], tmp_path / "short")
    long = _analyse_in_fresh_process(long_file, tmp_path / "long")

    facts = long["facts"]
    assert facts["duration_seconds"] >= 32 * 60
    assert facts["sample_rate"] == 44100 and facts["channels"] == 2
    growth = long["rss_mb"] - short["rss_mb"]
    print(f"peak RSS: 30 s {short['rss_mb']:.0f} MB, 32 min {long['rss_mb']:.0f} MB")
    assert growth < 300, (short["rss_mb"], long["rss_mb"])

    out = tmp_path / "long"
    index = json.loads((out / long["artifacts"]["peaks"]).read_text())
    assert index["levels"][0]["length"] <= render.MAX_COARSE_VALUES
    assert facts["spectrogram_width"] <= render.MAX_IMAGE_WIDTH
    beats = json.loads((out / long["artifacts"]["beats"]).read_text())["beats"]
    assert beats[-1] > facts["duration_seconds"] - 60  # beats run to the end, not one window
    assert facts["tempo_bpm"] is not None and len(facts["sections"]) >= 6
