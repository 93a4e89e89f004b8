from django.apps import AppConfig


class AnnotationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "annotations"
    verbose_name = "Flamingo Workbench"

    def ready(self) -> None:
        # Connects the receiver that keeps the audit's per-generation summaries right when a review
        # is deleted through the ORM.
        from annotations.services import audit  # noqa: F401
