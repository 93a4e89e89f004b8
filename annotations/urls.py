from django.urls import include, path

from annotations import generation_views, review_views, reward_views, song_views, views

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
    path(
        "generations/<int:pk>/rewards/",
        reward_views.generation_rewards,
        name="generation_rewards",
    ),
    path("rewards/", reward_views.reward_overview, name="reward_overview"),
    path("rewards/profiles/", reward_views.reward_profile_list, name="reward_profile_list"),
    path("rewards/profiles/new/", reward_views.reward_profile_new, name="reward_profile_new"),
    path(
        "rewards/profiles/<int:pk>/edit/",
        reward_views.reward_profile_edit,
        name="reward_profile_edit",
    ),
    path("review/", review_views.review_queue, name="review_queue"),
    path("review/next/", review_views.review_next, name="review_next"),
    path("reviews/<int:pk>/", review_views.review_detail, name="review_detail"),
    path("reviews/<int:pk>/draft/", review_views.review_draft, name="review_draft"),
    path("reviews/<int:pk>/flags/", review_views.review_flag_create, name="review_flag_create"),
    path(
        "reviews/<int:pk>/flags/<int:flag_pk>/",
        review_views.review_flag_update,
        name="review_flag_update",
    ),
    path(
        "reviews/<int:pk>/flags/<int:flag_pk>/delete/",
        review_views.review_flag_delete,
        name="review_flag_delete",
    ),
    path(
        "reviews/<int:pk>/hints/<int:hint_pk>/dismiss/",
        review_views.review_hint_dismiss,
        name="review_hint_dismiss",
    ),
    path("reviews/<int:pk>/skip/", review_views.review_skip, name="review_skip"),
    path("reviews/<int:pk>/submit/", review_views.review_submit, name="review_submit"),
    path("", include("annotations.dataset_urls")),
    path("", include("annotations.training_urls")),
    path("", include("annotations.model_urls")),
    path("", include("annotations.audit_urls")),
    path("taxonomy/", views.taxonomy, name="taxonomy"),
    path("health/", views.health, name="health"),
]
