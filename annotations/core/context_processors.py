from typing import Any

from django.http import HttpRequest

from annotations.core.navigation import nav_items_for
from annotations.core.roles import roles_of


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "user_roles": []}
    # An htmx answer renders several partials with the same request: ask for the roles once.
    cached: dict[str, Any] | None = getattr(request, "_workbench_navigation", None)
    if cached is None:
        cached = {"nav_items": nav_items_for(user), "user_roles": sorted(roles_of(user))}
        request._workbench_navigation = cached  # type: ignore[attr-defined]
    return cached
