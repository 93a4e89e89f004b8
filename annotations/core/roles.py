"""The three roles as Django groups, and the permissions each one holds.

This mapping is the single source of truth: migrations call `sync_role_groups` so a fresh database
and an upgraded one end up the same, and `tests/annotations/test_roles.py` pins what each role may do.
"""

from __future__ import annotations

from typing import Any

EXPERT = "expert"
ADMIN = "admin"
AUDITOR = "auditor"
ROLES = (EXPERT, ADMIN, AUDITOR)

_ADMIN_MANAGED_MODELS = (
    "song",
    "audiofile",
    "genre",
    "culture",
    "language",
    "instrument",
    "errorcategory",
    "prompttemplate",
    "modelversion",
    "expertprofile",
    "datasetsnapshot",
    "trainingrun",
    "rewardprofile",
    "modelevaluation",
)

ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    # Experts listen, read and review; they see the taxonomy they flag with.
    EXPERT: (
        "review_generations",
        "view_song",
        "view_audiofile",
        "view_generation",
        "view_errorcategory",
    ),
    # Admins curate songs, prompts, taxonomy and datasets, train and promote model versions.
    ADMIN: tuple(
        f"{action}_{model}"
        for model in _ADMIN_MANAGED_MODELS
        for action in ("add", "change", "delete", "view")
    )
    + (
        "manage_songs",
        "curate_datasets",
        "run_training",
        "run_generation",
        "promote_modelversion",
        "view_generation",
        "view_generationgroup",
        "view_review",
        "view_flag",
        "view_audit",
        "view_rewards",
        "manage_reward_profiles",
    ),
    # Auditors read analytics and export them; they change nothing.
    AUDITOR: (
        "view_audit",
        "export_audit",
        "view_song",
        "view_audiofile",
        "view_generation",
        "view_generationgroup",
        "view_review",
        "view_flag",
        "view_modelversion",
        "view_trainingrun",
        "view_datasetsnapshot",
        "view_modelevaluation",
        "view_errorcategory",
        "view_rewards",
        "view_rewardprofile",
    ),
}


def sync_role_groups(apps: Any, *, strict: bool = True) -> None:
    """Create the role groups and set their permissions to exactly ROLE_PERMISSIONS.

    Takes the migration-time app registry (or django.apps.apps). Permissions are created first,
    because on a fresh database they would otherwise appear only after all migrations ran.
    ``strict=False`` is for migrations older than a permission named here: they grant what exists
    at their point, and the latest migration that syncs (strict) grants the rest.
    """
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        # Migration-time app configs carry no models module, which create_permissions skips.
        stub = getattr(app_config, "models_module", None) is None
        if stub:
            app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        if stub:
            app_config.models_module = None

    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role)
        permissions = list(
            permission_model.objects.filter(
                content_type__app_label="annotations", codename__in=codenames
            )
        )
        missing = set(codenames) - {p.codename for p in permissions}
        if missing and strict:
            raise RuntimeError(f"Role {role!r} names unknown permissions: {sorted(missing)}")
        group.permissions.set(permissions)


def roles_of(user: Any) -> set[str]:
    """The role names a user holds (superusers hold all of them)."""
    if not getattr(user, "is_authenticated", False):
        return set()
    if user.is_superuser:
        return set(ROLES)
    return set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
