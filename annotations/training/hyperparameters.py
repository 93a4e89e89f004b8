"""A training setting as text, both ways: shown (``display_setting``) and typed back in
(``coerce_setting``). Pure functions: the run page's selectors, the launch form and
``manage.py train --set`` share them. Imports nothing of the app."""

from __future__ import annotations

from typing import Any


def display_setting(value: Any) -> str:
    """A setting as it is typed back in: 1.5e-05 rather than 0.000015, auto for None."""
    if value is None:
        return "auto"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def coerce_setting(name: str, type_name: str, raw: str) -> Any:
    """A typed value from the text box; ValueError says what was expected."""
    text = raw.strip()
    optional = "None" in type_name
    if optional and text.lower() in ("none", "auto"):
        return None
    if type_name.startswith("bool"):
        if text.lower() in ("true", "yes", "1", "on"):
            return True
        if text.lower() in ("false", "no", "0", "off"):
            return False
        raise ValueError(f"{name} must be true or false{' (or auto)' if optional else ''}")
    if type_name.startswith("int"):
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{name} must be a whole number, not {text!r}") from None
    if type_name.startswith("float"):
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{name} must be a number, not {text!r}") from None
    return text
