from django.urls import path

from annotations.reviews import views

urlpatterns = [
    path("review/", views.review_queue, name="review_queue"),
    path("review/next/", views.review_next, name="review_next"),
    path("reviews/<int:pk>/", views.review_detail, name="review_detail"),
    path("reviews/<int:pk>/draft/", views.review_draft, name="review_draft"),
    path("reviews/<int:pk>/flags/", views.review_flag_create, name="review_flag_create"),
    path(
        "reviews/<int:pk>/flags/<int:flag_pk>/",
        views.review_flag_update,
        name="review_flag_update",
    ),
    path(
        "reviews/<int:pk>/flags/<int:flag_pk>/delete/",
        views.review_flag_delete,
        name="review_flag_delete",
    ),
    path(
        "reviews/<int:pk>/hints/<int:hint_pk>/dismiss/",
        views.review_hint_dismiss,
        name="review_hint_dismiss",
    ),
    path("reviews/<int:pk>/skip/", views.review_skip, name="review_skip"),
    path("reviews/<int:pk>/submit/", views.review_submit, name="review_submit"),
    path("taxonomy/", views.taxonomy, name="taxonomy"),
]
