"""How every benchmark ends: each missed target named, and a non-zero exit when any missed."""

from __future__ import annotations


def finish(missed: list[str]) -> None:
    """Print the missed checks and exit 1, or say every check passed (the caller returns 0)."""
    print()
    if missed:
        print(f"MISSED {len(missed)} check{'s' if len(missed) > 1 else ''}:")
        for line in missed:
            print(f"  - {line}")
        raise SystemExit(1)
    print("every check passed")
