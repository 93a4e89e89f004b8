"""audio_analysis/ runs on a worker without Django, and importing it loads no audio library."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.test_modeling_boundary import FORBIDDEN_ROOTS, _imported_roots

PACKAGE = Path(__file__).resolve().parents[2] / "audio_analysis"


def test_no_module_in_audio_analysis_imports_the_web_side() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(_imported_roots(path) & FORBIDDEN_ROOTS)
        for path in PACKAGE.rglob("*.py")
        if _imported_roots(path) & FORBIDDEN_ROOTS
    }
    assert offenders == {}


def test_audio_analysis_imports_with_django_unavailable_and_librosa_lazily() -> None:
    script = (
        "import sys, importlib, pkgutil\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'django', 'celery', 'channels'}:\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import audio_analysis\n"
        "for info in pkgutil.walk_packages(audio_analysis.__path__, 'audio_analysis.'):\n"
        "    importlib.import_module(info.name)\n"
        "print('librosa' in sys.modules, 'music21' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PACKAGE.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False False", (
        "librosa loads inside the analysis, not at import"
    )


def test_warm_up_runs_the_whole_pipeline_once_so_the_first_song_is_not_slow() -> None:
    script = (
        "import sys\n"
        "from audio_analysis import warm_up\n"
        "warm_up()\n"
        "print('librosa' in sys.modules, 'numba' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PACKAGE.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True True"
