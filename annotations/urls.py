from django.urls import path

from annotations import generation_views, song_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("songs/", views.song_list, name="song_list"),
    path("songs/upload/", song_views.song_upload, name="song_upload"),
    path("songs/upload/file/", song_views.song_upload_file, name="song_upload_file"),
    path("songs/<int:pk>/", song_views.song_detail, name="song_detail"),
    path("songs/<int:pk>/analysis/", song_views.song_analysis_panel, name="song_analysis_panel"),
    path("songs/<int:pk>/reanalyse/", song_views.song_reanalyse, name="song_reanalyse"),
    path(
        "analyses/<int:pk>/files/<str:filename>",
        song_views.song_analysis_file,
        name="song_analysis_file",
    ),
    path("audio/<int:pk>/", song_views.audio_file_stream, name="audio_file_stream"),
    path("generations/", generation_views.generation_list, name="generation_list"),
    path("generations/new/", generation_views.generation_new, name="generation_new"),
    path("generations/<int:pk>/", generation_views.generation_detail, name="generation_detail"),
    path(
        "generations/<int:pk>/hints/<int:hint_pk>/",
        generation_views.generation_hint_decide_view,
        name="generation_hint_decide",
    ),
    path("models/", views.model_version_list, name="model_version_list"),
    path("taxonomy/", views.taxonomy, name="taxonomy"),
    path("health/", views.health, name="health"),
]
