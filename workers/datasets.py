"""Tasks that build dataset snapshots (CPU: the ``audio`` queue)."""
