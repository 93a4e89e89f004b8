from django.urls import path

from annotations import views

urlpatterns = [
    path("", views.home, name="home"),
    path("songs/", views.song_list, name="song_list"),
    path("models/", views.model_version_list, name="model_version_list"),
    path("taxonomy/", views.taxonomy, name="taxonomy"),
    path("health/", views.health, name="health"),
]
