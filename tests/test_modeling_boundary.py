"""modeling/ and audio_analysis/ run on worker boxes without Django, and stay cheap to import."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN_ROOTS = {"django", "annotations", "workers", "workbench", "celery", "channels"}
# Package → heavy libraries it may load only inside functions (a worker pays for them when used).
PACKAGES = {"modeling": ("torch", "transformers"), "audio_analysis": ("librosa", "music21")}


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_module_imports_the_web_side(package: str) -> None:
    folder = ROOT / package
    offenders = {
        str(path.relative_to(folder)): sorted(_imported_roots(path) & FORBIDDEN_ROOTS)
        for path in folder.rglob("*.py")
        if _imported_roots(path) & FORBIDDEN_ROOTS
    }
    assert offenders == {}


@pytest.mark.subprocess
@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_it_imports_with_django_unavailable_and_heavy_libraries_lazily(package: str) -> None:
    heavy = PACKAGES[package]
    # A meta-path finder that makes `import django` fail, as on a GPU box without it.
    script = (
        "import sys, importlib, pkgutil\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'django', 'celery', 'channels'}:\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        f"import {package}\n"
        f"for info in pkgutil.walk_packages({package}.__path__, '{package}.'):\n"
        "    importlib.import_module(info.name)\n"
        f"print([name for name in {heavy!r} if name in sys.modules])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", "heavy libraries load lazily, inside functions"
