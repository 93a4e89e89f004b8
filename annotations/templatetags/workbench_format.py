"""Formatting filters for the pages: times as people read them on a player."""

from __future__ import annotations

from django import template

from annotations.core.formatting import format_bytes, format_duration

register = template.Library()


@register.filter
def duration(seconds: float | None) -> str:
    """``{{ 3725|duration }}`` → ``1:02:05``; empty for None."""
    return "" if seconds is None else format_duration(float(seconds))


@register.filter
def filesize(size: int | None) -> str:
    return "" if size is None else format_bytes(int(size))
