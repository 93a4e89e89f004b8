from django.urls import path

from annotations.songs import views

urlpatterns = [
    path("songs/", views.song_list, name="song_list"),
    path("songs/upload/", views.song_upload, name="song_upload"),
    path("songs/upload/file/", views.song_upload_file, name="song_upload_file"),
    path("songs/<int:pk>/", views.song_detail, name="song_detail"),
    path("songs/<int:pk>/analysis/", views.song_analysis_panel, name="song_analysis_panel"),
    path("songs/<int:pk>/reanalyse/", views.song_reanalyse, name="song_reanalyse"),
    path(
        "analyses/<int:pk>/files/<str:filename>",
        views.song_analysis_file,
        name="song_analysis_file",
    ),
    path("audio/<int:pk>/", views.audio_file_stream, name="audio_file_stream"),
]
