from __future__ import annotations

from pathlib import Path

import pytest

from tests import factories


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
