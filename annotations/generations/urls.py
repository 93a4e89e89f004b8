from django.urls import path

from annotations.generations import views

urlpatterns = [
    path("generations/", views.generation_list, name="generation_list"),
    path("generations/new/", views.generation_new, name="generation_new"),
    path("generations/<int:pk>/", views.generation_detail, name="generation_detail"),
    path(
        "generations/<int:pk>/hints/<int:hint_pk>/",
        views.generation_hint_decide_view,
        name="generation_hint_decide",
    ),
]
