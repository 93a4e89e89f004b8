"""Every room's URLs under one root. Each room owns its ``urls.py``; the paths are unchanged."""

from django.urls import include, path

urlpatterns = [
    path("", include("annotations.home.urls")),
    path("", include("annotations.songs.urls")),
    path("", include("annotations.generations.urls")),
    path("", include("annotations.reviews.urls")),
    path("", include("annotations.rewards.urls")),
    path("", include("annotations.datasets.urls")),
    path("", include("annotations.training.urls")),
    path("", include("annotations.training.version_urls")),
    path("", include("annotations.audit.urls")),
]
