from django.urls import path

from annotations import song_views, views

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
    path("models/", views.model_version_list, name="model_version_list"),
    path("taxonomy/", views.taxonomy, name="taxonomy"),
    path("health/", views.health, name="health"),
]
