"""The rendered corpus the accuracy and long-file tests read is whole.

CI builds it through this test before the suite (beside the linters) and keeps it between runs,
so a partial or damaged copy must fail here, naming the piece, rather than show up later as odd
accuracy figures.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf


def test_every_piece_is_rendered_as_its_record_says(
    eval_corpus: tuple[Path, list[dict[str, Any]]],
) -> None:
    root, records = eval_corpus
    assert records
    for record in records:
        info = sf.info(root / record["audio"])
        assert (info.samplerate, info.channels) == (44100, 2), record["piece_id"]
        assert info.duration == pytest.approx(record["audio_seconds"], abs=0.01), record["piece_id"]
        beats = record["beats"]
        assert beats and all(a < b for a, b in itertools.pairwise(beats)), record["piece_id"]
        assert beats[-1] < record["music_seconds"] <= record["audio_seconds"], record["piece_id"]


def test_the_long_file_lasts_32_minutes(long_file: Path) -> None:
    info = sf.info(long_file)
    assert (info.samplerate, info.channels) == (44100, 2)
    assert info.duration >= 32 * 60
