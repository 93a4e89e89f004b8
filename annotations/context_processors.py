from typing import Any

from django.http import HttpRequest

from annotations.navigation import nav_items_for
from annotations.roles import roles_of


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "user_roles": []}
    return {"nav_items": nav_items_for(user), "user_roles": sorted(roles_of(user))}
