"""Routes of the training pages (included from annotations/urls.py)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
