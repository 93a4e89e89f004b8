from __future__ import annotations

from django.contrib.auth.models import Group

from annotations.core.roles import ADMIN, AUDITOR, EXPERT, ROLE_PERMISSIONS, roles_of
from tests import factories


def test_the_migrations_create_each_role_with_exactly_its_permissions(db) -> None:
    for role, codenames in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=role)
        assert set(group.permissions.values_list("codename", flat=True)) == set(codenames)


def test_only_experts_may_review(role_users) -> None:
    can_review = {
        name for name, user in role_users.items() if user.has_perm("annotations.review_generations")
    }
    assert can_review == {EXPERT}


def test_only_admins_may_train_and_promote(role_users) -> None:
    for name, user in role_users.items():
        assert user.has_perm("annotations.run_training") == (name == ADMIN)
        assert user.has_perm("annotations.promote_modelversion") == (name == ADMIN)


def test_auditors_export_and_change_nothing(auditor_user) -> None:
    assert auditor_user.has_perm("annotations.export_audit")
    changing = [
        c for c in ROLE_PERMISSIONS[AUDITOR] if not c.startswith("view_") and c != "export_audit"
    ]
    assert changing == []


def test_roles_of_reads_group_membership(db) -> None:
    user = factories.UserFactory(role=AUDITOR)
    user.groups.add(Group.objects.get(name=EXPERT))
    assert roles_of(user) == {AUDITOR, EXPERT}
    assert roles_of(factories.UserFactory()) == set()
