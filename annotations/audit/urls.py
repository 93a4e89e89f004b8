"""Routes of the audit pages (included from annotations/urls.py)."""

from django.urls import URLPattern, path

from annotations.audit import views as audit_views

urlpatterns: list[URLPattern] = [
    path("audit/", audit_views.audit_dashboard, name="audit_dashboard"),
    path("audit/compare/", audit_views.audit_compare, name="audit_compare"),
    path("audit/blind-spots/", audit_views.audit_blind_spots, name="audit_blind_spots"),
    path("audit/agreement/", audit_views.audit_agreement, name="audit_agreement"),
    path("audit/spans/", audit_views.audit_spans, name="audit_spans"),
]
