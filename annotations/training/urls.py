"""Routes of the training pages (included from annotations/urls.py)."""

from django.urls import URLPattern, path

from annotations.training import views as training_views

urlpatterns: list[URLPattern] = [
    path("training/", training_views.training_run_list, name="training_run_list"),
    path("training/new/", training_views.training_run_new, name="training_run_new"),
    path("training/<int:pk>/", training_views.training_run_detail, name="training_run_detail"),
    path(
        "training/<int:pk>/metrics.json",
        training_views.training_run_metrics,
        name="training_run_metrics",
    ),
    path(
        "training/<int:pk>/cancel/",
        training_views.training_run_cancel_view,
        name="training_run_cancel",
    ),
]
