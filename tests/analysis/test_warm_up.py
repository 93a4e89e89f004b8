"""audio_analysis.warm_up() pays the first-call costs (imports, numba JIT) before the first song.

(That audio_analysis imports without Django is checked with modeling in tests/test_modeling_boundary.)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.subprocess
def test_warm_up_runs_the_whole_pipeline_once_so_the_first_song_is_not_slow() -> None:
    script = (
        "import sys\n"
        "from audio_analysis import warm_up\n"
        "warm_up()\n"
        "print('librosa' in sys.modules, 'numba' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True True"
