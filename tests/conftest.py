from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests import factories

# What `bash scripts/test.sh --quick` leaves out (pyproject.toml registers these markers and
# scripts/test.sh deselects them). A test using one of these fixtures gets its marker here, so no
# one has to remember it; the others are marked by hand.
FIXTURE_MARKERS = {
    "browser": "browser",
    "corpus_builder": "corpus",
    "eval_corpus": "corpus",
    "drum_piece": "corpus",
    "long_file": "corpus",
}
# Every marker --quick leaves out. Only a test under one of them may start a Python (or shell)
# child process: each child pays seconds of imports, so the quick tier must not meet one unannounced.
QUICK_LEAVES_OUT = ("browser", "worker", "corpus", "subprocess", "demo", "training")


@pytest.hookimpl(tryfirst=True)  # before -m deselects by these markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture in FIXTURE_MARKERS.keys() & set(getattr(item, "fixturenames", ())):
            item.add_marker(FIXTURE_MARKERS[fixture])


class _ChildProcessGuard:
    """Refuses a Python or shell child process in a test without a child-process marker."""

    refusing: str | None = None  # the running test's id while it may start none

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        if event != "subprocess.Popen" or self.refusing is None:
            return
        executable, argv = args[0], args[1]
        argv = [str(a) for a in argv] if isinstance(argv, list | tuple) else str(argv).split()
        program = Path(argv[0]).name if argv else ""
        if (
            program.startswith("python")
            or program in {"bash", "sh"}
            or executable == sys.executable
        ):
            raise RuntimeError(
                f"{self.refusing} starts a child process ({' '.join(argv)[:120]}): mark it "
                "@pytest.mark.subprocess (or another of "
                f"{', '.join(QUICK_LEAVES_OUT)}) so that `scripts/test.sh --quick` leaves it out"
            )


_child_process_guard = _ChildProcessGuard()
sys.addaudithook(_child_process_guard)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    marked = any(item.get_closest_marker(name) for name in QUICK_LEAVES_OUT)
    _child_process_guard.refusing = None if marked else item.nodeid
    try:
        return (yield)
    finally:
        _child_process_guard.refusing = None


@pytest.fixture(autouse=True)
def _storage_in_tmp(settings, tmp_path: Path) -> None:
    """Every test stores files under its own temp dir, never in the developer's data dir."""
    settings.MEDIA_ROOT = str(tmp_path / "storage")


@pytest.fixture
def expert_user(db):
    return factories.expert(username="expert")


@pytest.fixture
def admin_user(db):
    return factories.admin(username="admin")


@pytest.fixture
def auditor_user(db):
    return factories.auditor(username="auditor")


@pytest.fixture
def role_users(expert_user, admin_user, auditor_user):
    return {"expert": expert_user, "admin": admin_user, "auditor": auditor_user}


@pytest.fixture(autouse=True)
def _reference_data_in_transactional_tests(request) -> None:  # type: ignore[no-untyped-def]
    """Transactional tests flush the database, migration-made rows included: put them back.

    (Django's serialized_rollback restores them too, but collides with content types re-created by
    the flush's post_migrate; re-seeding from the same code the migrations run is simpler.)
    """
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        return
    request.getfixturevalue("transactional_db")
    from django.apps import apps

    from annotations.core.roles import sync_role_groups
    from annotations.reviews.taxonomy_seed import seed_error_taxonomy
    from annotations.rewards.profiles_seed import seed_reward_profiles

    sync_role_groups(apps)
    seed_error_taxonomy(apps)
    seed_reward_profiles(apps)
