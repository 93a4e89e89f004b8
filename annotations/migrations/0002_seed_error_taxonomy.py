"""Seed the error taxonomy. Admins edit descriptions later in the admin; codes stay stable."""

from django.db import migrations

from annotations.reviews.taxonomy_seed import CATEGORIES, seed_error_taxonomy


def seed(apps, schema_editor):
    seed_error_taxonomy(apps)


def unseed(apps, schema_editor):
    apps.get_model("annotations", "ErrorCategory").objects.filter(
        code__in=[row[0] for row in CATEGORIES], flags__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("annotations", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
