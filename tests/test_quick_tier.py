"""`scripts/test.sh --quick` leaves out exactly the registered slow markers, and the quick tier
cannot start a Python child process unannounced."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import QUICK_LEAVES_OUT

ROOT = Path(__file__).resolve().parent.parent


def test_quick_leaves_out_every_registered_slow_marker_and_nothing_else() -> None:
    pytest_options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
    registered = {line.split(":")[0] for line in pytest_options["ini_options"]["markers"]}
    expression = re.search(
        r'^QUICK_MARKERS="([^"]+)"$', (ROOT / "scripts/test.sh").read_text(), re.M
    )
    assert expression, "scripts/test.sh defines QUICK_MARKERS"
    left_out = re.findall(r"not (\w+)", expression.group(1))
    assert expression.group(1) == " and ".join(f"not {name}" for name in left_out)
    assert set(left_out) == set(QUICK_LEAVES_OUT) == registered


def test_a_quick_test_that_starts_a_python_child_is_told_to_mark_itself() -> None:
    with pytest.raises(RuntimeError, match=r"mark it @pytest\.mark\.subprocess"):
        subprocess.run([sys.executable, "-c", "pass"], check=False)
    with pytest.raises(RuntimeError, match=r"test_quick_tier\.py::"):
        subprocess.run(["bash", "-c", "true"], check=False)
    assert subprocess.run(["true"], check=False).returncode == 0  # other programs are fine


@pytest.mark.subprocess
def test_a_marked_test_may_start_one() -> None:
    done = subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True)
    assert done.stdout.strip() == "42"
