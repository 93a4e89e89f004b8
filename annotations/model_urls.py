"""Routes of the model pages (included from annotations/urls.py)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
