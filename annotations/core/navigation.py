"""What the navigation offers each user: only pages they can open."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import reverse


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    shortcut: str


# (label, url name, permission needed or None for any signed-in user, keyboard shortcut)
_NAV = (
    ("Home", "home", None, "g h"),
    ("Review", "review_queue", "annotations.review_generations", "g r"),
    ("Songs", "song_list", "annotations.view_song", "g s"),
    ("Upload", "song_upload", "annotations.manage_songs", "g u"),
    ("Generations", "generation_list", "annotations.view_generation", "g g"),
    ("Datasets", "dataset_snapshot_list", "annotations.view_datasetsnapshot", "g d"),
    ("Training", "training_run_list", "annotations.view_trainingrun", "g n"),
    ("Model versions", "model_version_list", "annotations.view_modelversion", "g m"),
    ("Error taxonomy", "taxonomy", "annotations.view_errorcategory", "g t"),
    ("Rewards", "reward_overview", "annotations.view_rewards", "g w"),
    ("Audit", "audit_dashboard", "annotations.view_audit", "g x"),
)


def nav_items_for(user: Any) -> list[NavItem]:
    items = [
        NavItem(label, reverse(url_name), shortcut)
        for label, url_name, perm, shortcut in _NAV
        if perm is None or user.has_perm(perm)
    ]
    if user.is_staff:
        items.append(NavItem("Django admin", reverse("admin:index"), "g a"))
    return items
