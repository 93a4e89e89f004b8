from django.apps import AppConfig


class AnnotationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "annotations"
    verbose_name = "Flamingo Workbench"

    def ready(self) -> None:
        # Higher rooms subscribe to the signals lower rooms declare (a lower room never imports a
        # higher one). The audit's services also connect the receivers that keep its summaries
        # right when a review or flag is deleted through the ORM.
        from annotations.audit import receivers as audit_receivers  # noqa: F401
        from annotations.generations import receivers as generation_receivers  # noqa: F401
        from annotations.rewards import receivers as reward_receivers  # noqa: F401
