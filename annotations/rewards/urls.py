from django.urls import path

from annotations.rewards import views

urlpatterns = [
    path("generations/<int:pk>/rewards/", views.generation_rewards, name="generation_rewards"),
    path("rewards/", views.reward_overview, name="reward_overview"),
    path("rewards/profiles/", views.reward_profile_list, name="reward_profile_list"),
    path("rewards/profiles/new/", views.reward_profile_new, name="reward_profile_new"),
    path(
        "rewards/profiles/<int:pk>/edit/",
        views.reward_profile_edit,
        name="reward_profile_edit",
    ),
]
