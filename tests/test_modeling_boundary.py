"""modeling/ must run on a GPU box without Django, and stay cheap to import."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

MODELING = Path(__file__).resolve().parent.parent / "modeling"
FORBIDDEN_ROOTS = {"django", "annotations", "workers", "workbench", "celery", "channels"}


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_module_in_modeling_imports_the_web_side() -> None:
    offenders = {
        str(path.relative_to(MODELING)): sorted(_imported_roots(path) & FORBIDDEN_ROOTS)
        for path in MODELING.rglob("*.py")
        if _imported_roots(path) & FORBIDDEN_ROOTS
    }
    assert offenders == {}


def test_modeling_imports_with_django_unavailable_and_without_torch() -> None:
    # A meta-path finder that makes `import django` fail, as on a GPU box without it.
    script = (
        "import sys, importlib, pkgutil\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'django', 'celery', 'channels'}:\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import modeling\n"
        "for info in pkgutil.walk_packages(modeling.__path__, 'modeling.'):\n"
        "    importlib.import_module(info.name)\n"
        "print('torch' in sys.modules, 'transformers' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=MODELING.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False False", "heavy libraries load lazily, inside functions"
