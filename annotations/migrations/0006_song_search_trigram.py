"""Trigram indexes for the song list's free-text search, on PostgreSQL only.

``title__icontains`` compiles to ``UPPER(title) LIKE UPPER('%…%')`` on PostgreSQL, which no B-tree
can serve: at 100,000 songs every keystroke scanned the table. A GIN trigram index on the same
expression serves it. SQLite (the embedded demo) has no such index type and scans, which is fine
at demo sizes.
"""

from django.db import migrations

INDEXES = (
    ("song_title_trgm", "title"),
    ("song_artist_trgm", "artist"),
)


def create(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON annotations_song "
            f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )


def drop(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("annotations", "0005_generation_hints_and_prompt_library")]

    operations = [migrations.RunPython(create, drop)]
