"""Celery tasks. Each module is one queue (see workbench/celery.py): tasks parse ids, claim their
work (``annotations.core.task_claims``), and call one service."""

from __future__ import annotations

from typing import Any


def delivery(task: Any) -> tuple[str, bool]:
    """The running message's task id ("" when the task is called directly, as tests and commands
    do) and whether the broker delivered it before (its worker died or its ack was lost)."""
    request = task.request
    return request.id or "", bool((request.delivery_info or {}).get("redelivered"))
