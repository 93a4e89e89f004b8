"""Routes of the model pages (included from annotations/urls.py)."""

from django.urls import URLPattern, path

from annotations.training import version_views as model_views

urlpatterns: list[URLPattern] = [
    path("models/", model_views.model_version_list, name="model_version_list"),
    path("models/<int:pk>/", model_views.model_version_detail, name="model_version_detail"),
    path(
        "models/<int:pk>/promote/",
        model_views.model_version_promote_view,
        name="model_version_promote",
    ),
    path(
        "models/<int:pk>/evaluate/",
        model_views.model_version_evaluate,
        name="model_version_evaluate",
    ),
    path(
        "models/<int:pk>/retire/",
        model_views.model_version_retire_view,
        name="model_version_retire",
    ),
]
