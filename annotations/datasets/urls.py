"""Routes of the dataset pages (included from annotations/urls.py)."""

from django.urls import URLPattern, path

from annotations.datasets import views as dataset_views

urlpatterns: list[URLPattern] = [
    path("datasets/", dataset_views.dataset_snapshot_list, name="dataset_snapshot_list"),
    path("datasets/new/", dataset_views.dataset_snapshot_new, name="dataset_snapshot_new"),
    path(
        "datasets/<int:pk>/", dataset_views.dataset_snapshot_detail, name="dataset_snapshot_detail"
    ),
    path(
        "datasets/<int:pk>/retry/",
        dataset_views.dataset_snapshot_retry,
        name="dataset_snapshot_retry",
    ),
]
