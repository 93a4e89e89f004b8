"""Create the expert, admin and auditor groups with their permissions (annotations/roles.py)."""

from django.db import migrations

from annotations.core.roles import sync_role_groups


def create_roles(apps, schema_editor):
    # Permissions added by later migrations do not exist yet; those migrations sync again, strictly.
    sync_role_groups(apps, strict=False)


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0002_seed_error_taxonomy"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
