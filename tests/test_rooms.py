"""The house rules of ``annotations/``: a room per domain, stacked, and who may import what.

Each test fails with the offending imports, one ``path:line  imports X  (rule)`` per line, so a
violation says where it is and which rule it breaks. ``if TYPE_CHECKING:`` imports are not imports
at run time and do not count.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "annotations"

#: Bottom to top. A room may import its own modules and those of rooms below it, never above:
#: where a lower room must set off work in a higher one, it declares a signal the higher one
#: subscribes to.
STACK = (
    "core",
    "songs",
    "generations",
    "reviews",
    "rewards",
    "datasets",
    "training",
    "audit",
    "home",
    "demo",
)
#: The app's shell: what Django loads by convention (models registry, admin, URL root, app config,
#: commands, migrations, template tags). It may import any room; template tags still obey the
#: selector rule below.
SHELL = {
    "__init__.py",
    "apps.py",
    "admin.py",
    "urls.py",
    "models",
    "management",
    "migrations",
    "templatetags",
}
HEAVY = ("torch", "transformers", "trl", "peft", "accelerate")


@dataclass(frozen=True)
class Import:
    path: Path
    line: int
    module: str
    top_level: bool

    def __str__(self) -> str:
        shown = self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path
        return f"{shown}:{self.line}  imports {self.module}"


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines |= set(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(path: Path) -> list[Import]:
    tree = ast.parse(path.read_text(), filename=str(path))
    skip = _type_checking_lines(tree)
    top = {id(node) for node in tree.body}
    found: list[Import] = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from annotations.reviews import services` imports the module `...reviews.services`
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found += [Import(path, node.lineno, name, id(node) in top) for name in names]
    return found


def app_modules() -> list[Path]:
    """Every module of the app but its migrations."""
    return sorted(p for p in APP.rglob("*.py") if "migrations" not in p.parts)


def room_of(path: Path, app: Path = APP) -> str | None:
    first = path.relative_to(app).parts[0]
    return first if first in STACK else None


def room_named(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "annotations" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in STACK else None


def _kind(path: Path, app: Path = APP) -> set[str]:
    """What a module is: services, selectors, models, templatetags (by its path)."""
    parts = set(path.relative_to(app).with_suffix("").parts)
    return {
        kind
        for kind in ("services", "selectors", "models", "templatetags")
        if any(p == kind or p.endswith("_" + kind) for p in parts)
    }


def _is_kind(module: str, kind: str) -> bool:
    parts = module.split(".")
    return parts[0] == "annotations" and any(p == kind or p.endswith("_" + kind) for p in parts)


def _report(offences: list[str]) -> str:
    return "\n" + "\n".join(offences)


# Each rule: the offences among ``paths`` (modules under ``app``), as readable lines.


def upward_imports(paths: list[Path], app: Path = APP) -> list[str]:
    offences = []
    for path in paths:
        room = room_of(path, app)
        if room is None:
            continue
        for imp in imports_of(path):
            target = room_named(imp.module)
            if target is not None and STACK.index(target) > STACK.index(room):
                offences.append(f"{imp}  ({room} sits below {target}: declare a signal instead)")
    return offences


def reads_reaching_writes(paths: list[Path], app: Path = APP) -> list[str]:
    return [
        f"{imp}  (selectors and template tags never import services)"
        for path in paths
        if _kind(path, app) & {"selectors", "templatetags"}
        for imp in imports_of(path)
        if _is_kind(imp.module, "services")
    ]


def selectors_depending_on_pages(paths: list[Path], app: Path = APP) -> list[str]:
    return [
        f"{imp}  (a selector serves pages; it does not import forms or views)"
        for path in paths
        if "selectors" in _kind(path, app)
        for imp in imports_of(path)
        if _is_kind(imp.module, "forms") or _is_kind(imp.module, "views")
    ]


def models_reaching_logic(paths: list[Path], app: Path = APP) -> list[str]:
    return [
        f"{imp}  (models are declarations: no services or selectors)"
        for path in paths
        if "models" in _kind(path, app)
        for imp in imports_of(path)
        if _is_kind(imp.module, "services") or _is_kind(imp.module, "selectors")
    ]


def _may_import_modeling(path: Path, app: Path) -> bool:
    if path.relative_to(app.parent).parts[0] == "workers":
        return True
    inner = path.relative_to(app).parts
    # Services; and the interfaces that run in a process of their own (management commands, the
    # demo's seeding, data migrations), which load what a worker would.
    return "services" in _kind(path, app) or inner[0] in {"management", "demo", "migrations"}


def modeling_outside_services(paths: list[Path], app: Path = APP) -> list[str]:
    offences = []
    for path in paths:
        for imp in imports_of(path):
            if imp.module.split(".")[0] != "modeling":
                continue
            if not _may_import_modeling(path, app):
                offences.append(f"{imp}  (only workers and services import modeling)")
            elif imp.top_level:
                offences.append(f"{imp}  (import modeling inside the function that needs it)")
    return offences


def heavy_in_web_code(paths: list[Path], app: Path = APP) -> list[str]:
    return [
        f"{imp}  (web code never imports torch or the trainers; call modeling from a service)"
        for path in paths
        for imp in imports_of(path)
        if imp.module.split(".")[0] in HEAVY
    ]


RULES = (
    upward_imports,
    reads_reaching_writes,
    selectors_depending_on_pages,
    models_reaching_logic,
    modeling_outside_services,
    heavy_in_web_code,
)


def test_every_module_of_the_app_lives_in_a_room_or_the_shell() -> None:
    strays = [
        str(path.relative_to(ROOT))
        for path in app_modules()
        if room_of(path) is None and path.relative_to(APP).parts[0] not in SHELL
    ]
    assert strays == [], "put these in a room: " + ", ".join(strays)


def test_every_room_says_what_it_owns_and_may_import() -> None:
    missing = []
    for room in STACK:
        init = APP / room / "__init__.py"
        doc = ast.get_docstring(ast.parse(init.read_text())) if init.exists() else None
        if not doc or "May import" not in doc:
            missing.append(room)
    assert missing == [], f"these rooms' __init__.py lack a docstring with 'May import': {missing}"


def test_a_lower_room_never_imports_a_higher_one() -> None:
    offences = upward_imports(app_modules())
    assert offences == [], _report(offences)


def test_selectors_and_template_tags_never_import_services() -> None:
    offences = reads_reaching_writes(app_modules())
    assert offences == [], _report(offences)


def test_selectors_never_import_forms_or_views() -> None:
    offences = selectors_depending_on_pages(app_modules())
    assert offences == [], _report(offences)


def test_models_never_import_services_or_selectors() -> None:
    offences = models_reaching_logic(app_modules())
    assert offences == [], _report(offences)


def test_only_workers_and_services_import_modeling_and_only_inside_functions() -> None:
    paths = app_modules() + sorted((APP / "migrations").glob("*.py"))
    offences = modeling_outside_services(paths + sorted((ROOT / "workers").rglob("*.py")))
    assert offences == [], _report(offences)


def test_web_code_never_imports_torch_or_the_trainers() -> None:
    paths = app_modules() + sorted((ROOT / "workbench").rglob("*.py"))
    offences = heavy_in_web_code(paths)
    assert offences == [], _report(offences)


@pytest.mark.subprocess
def test_the_web_process_loads_no_torch() -> None:
    """Every URL's view, the ASGI app and every room imported: torch and the trainers stay out."""
    script = (
        "import os, sys, django\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'workbench.settings')\n"
        "django.setup()\n"
        "import workbench.asgi, workbench.urls\n"
        "from django.urls import get_resolver\n"
        "get_resolver().url_patterns\n"
        "import pkgutil, importlib, annotations\n"
        "for info in pkgutil.walk_packages(annotations.__path__, 'annotations.'):\n"
        "    if any(p in info.name for p in ('.demo', '.migrations', '.management')):\n"
        "        continue\n"
        "    importlib.import_module(info.name)\n"
        f"print(sorted(n for n in {HEAVY!r} if n in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize(
    ("room", "module", "planted", "rule"),
    [
        ("songs", "selectors.py", "from annotations.rewards import receivers\n", "sits below"),
        (
            "reviews",
            "selectors.py",
            "from annotations.reviews import services\n",
            "never import services",
        ),
        (
            "training",
            "selectors.py",
            "from annotations.training.forms import X\n",
            "forms or views",
        ),
        ("audit", "models.py", "from annotations.audit.selectors import X\n", "declarations"),
        (
            "songs",
            "views.py",
            "from modeling.prompts import full_text\n",
            "only workers and services",
        ),
        (
            "rewards",
            "services/rewards.py",
            "from modeling.rewards import REWARDS\n",
            "inside the function",
        ),
        ("home", "views.py", "def f():\n    import torch\n", "never imports torch"),
    ],
)
def test_each_rule_catches_a_planted_violation(
    tmp_path: Path, room: str, module: str, planted: str, rule: str
) -> None:
    """The checks can fail: a copy of a real module with one forbidden import added is reported,
    with its path and the rule, and the unchanged copy is not."""
    app = tmp_path / "annotations"
    copy = app / room / module
    copy.parent.mkdir(parents=True)
    copy.write_text((APP / room / module).read_text())
    clean = [line for check in RULES for line in check([copy], app)]
    copy.write_text(copy.read_text() + "\n" + planted)
    caught = [line for check in RULES for line in check([copy], app)]
    assert len(caught) == len(clean) + 1, caught
    assert any(module in line and rule in line for line in caught), caught
