"""Core: what every room shares and nothing domain-specific.

Owns: the error hierarchy (``errors``), roles and their groups (``roles``), the permission check
every ``access_*`` uses (``permissions``), the request type for htmx views (``http``), the base
model (``models.TimestampedModel``), number formatting, the task-claim helper (``task_claims``),
user notifications over Channels (``notifications``, ``consumers``, ``routing``) and the navigation.

May import: Django and the standard library only; no other room.
"""
