"""Setting Django up in a spawned worker process (``multiprocessing``'s "spawn" start method).

Kept free of model imports: a pool pickles its initializer by reference, so the child imports this
module before Django is set up.
"""

from __future__ import annotations


def django_child(database_name: str) -> None:
    """Set Django up from the inherited environment, on the parent's database.

    The parent may run on another database than its environment names (a test run's
    ``test_…`` database), and a child must read and write the same one.
    """
    import django
    from django.conf import settings

    settings.DATABASES["default"]["NAME"] = database_name
    django.setup()
