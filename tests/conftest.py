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
