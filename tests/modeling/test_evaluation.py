"""Evaluation metrics on fixed outputs (hand-computed), then the whole evaluation with the tiny model."""

from __future__ import annotations

import doctest
from pathlib import Path
from typing import Any

import pytest

from modeling.config import DecodingParams
from modeling.training.evaluation import Output, evaluate, prompt_text, score_outputs
from tests.audio_files import write_tone
from tests.tiny_models import tiny_model_path

OPTIONS = ["sitar", "sarod", "veena"]
LOOPING = (
    "<think>Steady.</think><answer>A march at 120 BPM in 3/4, "
    + "the drums go on and on, " * 12
    + "end.</answer>"
)


def question(answer: str, **extra: Any) -> dict[str, Any]:
    return {"answer": answer, "options": OPTIONS, "metadata": None, "analysis": {}, **extra}


def caption(meter: str, bpm: float) -> dict[str, Any]:
    return {
        "answer": None,
        "options": None,
        "metadata": {"meter": meter},
        "analysis": {"tempo_bpm": bpm},
    }


@pytest.fixture
def scored() -> dict[str, Any]:
    rows = [
        question("sarod", id="q1"),
        question("sitar", id="q2"),
        caption("3/4", 92.0),
        caption("4/4", 120.0),
        caption("4/4", 120.0),
    ]
    outputs = [
        Output("q1", "<think>No frets.</think><answer>(B)</answer>"),  # B = sarod: right, formatted
        Output("q2", "<answer>B</answer>"),  # wrong letter, no <think>
        # Meter right; 128 BPM against a measured 92: one hint.
        Output("c1", "<think>Count three.</think><answer>A waltz in 3/4 at 128 BPM.</answer>"),
        Output("c2", LOOPING),  # tags right, so format 1; but it loops; meter wrong; tempo right
        Output("c3", error="audio missing"),
    ]
    return score_outputs(rows, outputs).metrics


def test_counts_leave_failed_outputs_out_of_every_mean(scored) -> None:
    assert (scored["rows"], scored["generated"], scored["failed"]) == (5, 4, 1)


def test_multiple_choice_accuracy_is_over_rows_with_options(scored) -> None:
    assert scored["mc_rows"] == 2
    assert scored["mc_accuracy"] == 0.5


def test_each_reward_is_averaged_over_the_rows_it_applies_to(scored) -> None:
    assert scored["reward/format"] == 0.75 and scored["reward/format/rows"] == 4
    assert scored["reward/accuracy"] == 0.5 and scored["reward/accuracy/rows"] == 2
    assert scored["reward/structured_thinking"] == 0.5
    assert scored["reward/structured_thinking/rows"] == 2
    assert not any(k.startswith("reward/hallucination") for k in scored)


def test_format_compliance_also_rejects_looping_output(scored) -> None:
    assert scored["format_compliance"] == 0.5  # q1 and c1; q2 has no think, c2 loops


def test_hints_are_counted_over_outputs_whose_row_has_analysis(scored) -> None:
    assert scored["hint_rows"] == 2
    assert scored["hints_per_generation"] == 0.5
    assert scored["hint_rate"] == 0.5


def test_nothing_generated_gives_no_rates() -> None:
    metrics = score_outputs([question("sarod")], [Output("q", error="boom")]).metrics
    assert metrics["mc_accuracy"] is None and metrics["format_compliance"] is None
    assert metrics["reward/format"] is None and metrics["hints_per_generation"] is None


def test_the_module_examples_hold() -> None:
    import modeling.training.evaluation

    result = doctest.testmod(modeling.training.evaluation)
    assert result.attempted > 0 and result.failed == 0


def test_the_prompt_text_is_the_user_message_text() -> None:
    prompt = [{"role": "user", "content": [{"type": "audio"}, {"type": "text", "text": "Key?"}]}]
    assert prompt_text(prompt) == "Key?"


def grpo_row(index: int, path: str) -> dict[str, Any]:
    return {
        "id": f"grpo-{index}",
        "song_id": index,
        "audio": {"path": path, "sha256": ""},
        "prompt": [
            {"role": "user", "content": [{"type": "audio"}, {"type": "text", "text": "Tempo?"}]}
        ],
        "answer": "120",
        "options": None,
        "metadata": {"tempo_bpm": 120},
        "analysis": {"tempo_bpm": 120.0},
        "source": "question",
        "genre": "",
        "culture": "",
    }


def test_the_tiny_model_is_evaluated_end_to_end(tmp_path: Path) -> None:
    (tmp_path / "songs").mkdir()
    write_tone(tmp_path / "songs" / "a.wav", seconds=2.0)
    rows = [grpo_row(0, "songs/a.wav"), grpo_row(1, "songs/a.wav"), grpo_row(2, "songs/gone.wav")]
    progress: list[tuple[int, int]] = []
    decoding = DecodingParams(max_new_tokens=4, do_sample=False)
    result = evaluate(
        checkpoint=str(tiny_model_path()),
        rows=rows,
        audio_root=tmp_path,
        decoding=decoding,
        batch_size=2,
        on_progress=lambda done, total: progress.append((done, total)),
    )
    assert (result.metrics["generated"], result.metrics["failed"]) == (2, 1)
    assert result.metrics["reward/accuracy/rows"] == 2
    assert progress[-1] == (3, 3)
    assert [s["id"] for s in result.samples] == ["grpo-0", "grpo-1"]
    assert all(s["output"] and s["prompt"] == "Tempo?" for s in result.samples)
    # Greedy decoding: the same weights give the same outputs, so comparisons measure weights.
    again = evaluate(
        checkpoint=str(tiny_model_path()), rows=rows[:1], audio_root=tmp_path, decoding=decoding
    )
    assert again.samples[0]["output"] == result.samples[0]["output"]


def test_an_empty_split_is_scored_without_loading_the_model(tmp_path: Path) -> None:
    result = evaluate(
        checkpoint=str(tmp_path / "no-such-model"),
        rows=[],
        audio_root=tmp_path,
        decoding=DecodingParams(max_new_tokens=4, do_sample=False),
    )
    assert (result.metrics["rows"], result.metrics["generated"]) == (0, 0)
    assert result.samples == []
