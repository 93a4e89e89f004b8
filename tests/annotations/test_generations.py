"""Requesting generations and running them with the tiny model in this process (no worker)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from annotations.core.errors import ValidationFailed
from annotations.generations.models import Generation, GenerationHint, ModelVersion
from annotations.generations.services.generations import (
    generation_hint_decide,
    generation_record_output,
    generation_request,
    generation_run,
)
from annotations.generations.services.parsing import parse
from annotations.rewards.models import RewardValue
from annotations.songs.models import SongAnalysis
from annotations.songs.services.audio_files import audio_file_add
from annotations.training.services.model_versions import model_version_register_local
from modeling.config import DecodingParams
from tests import factories
from tests.audio_files import write_tone
from tests.tiny_models import tiny_model_path

pytestmark = pytest.mark.django_db
DECODING = DecodingParams(max_new_tokens=6)


@pytest.fixture
def tiny_version() -> ModelVersion:
    return model_version_register_local(name="tiny", directory=tiny_model_path(), dtype="float32")


@pytest.fixture
def song_with_audio(tmp_path: Path):  # type: ignore[no-untyped-def]
    song = factories.SongFactory(title="Tone")
    audio_file_add(song=song, source=write_tone(tmp_path / "tone.wav", seconds=3.0))
    return song


def test_a_request_creates_a_group_of_queued_siblings_with_their_seeds(
    tiny_version: ModelVersion, song_with_audio
) -> None:
    [group] = generation_request(
        songs=[song_with_audio],
        model_version=tiny_version,
        prompt=factories.PromptTemplateFactory(),
        samples=5,
        decoding=DECODING,
        seed=40,
    )
    siblings = list(group.generations.order_by("sibling_index"))
    assert group.size == 5 and len(siblings) == 5
    assert [g.seed for g in siblings] == [40, 41, 42, 43, 44]
    assert {g.status for g in siblings} == {Generation.Status.QUEUED}
    assert siblings[0].decoding["max_new_tokens"] == 6


def test_a_large_request_is_cut_into_tasks_of_whole_groups(
    tiny_version: ModelVersion, song_with_audio, settings, tmp_path: Path
) -> None:
    settings.WORKBENCH_MODEL_TASK_SIZE = 4
    songs = [song_with_audio]
    for index in range(2):
        song = factories.SongFactory()
        audio_file_add(song=song, source=write_tone(tmp_path / f"{index}.wav", freq=500 + index))
        songs.append(song)
    groups = generation_request(
        songs=songs, model_version=tiny_version, prompt=factories.PromptTemplateFactory(), samples=2
    )
    tasks = [set(g.generations.values_list("celery_task_id", flat=True)) for g in groups]
    assert all(len(t) == 1 for t in tasks)  # siblings never split across tasks
    assert tasks[0] == tasks[1] != tasks[2]  # two groups of two fill a task of four


def test_a_song_without_audio_is_refused_with_its_name(tiny_version: ModelVersion) -> None:
    with pytest.raises(ValidationFailed, match="no playable audio file yet: Test Artist — Silent"):
        generation_request(
            songs=[factories.SongFactory(title="Silent")],
            model_version=tiny_version,
            prompt=factories.PromptTemplateFactory(),
        )


def test_running_a_request_stores_every_output_with_what_was_heard(
    tiny_version: ModelVersion, song_with_audio, django_capture_on_commit_callbacks
) -> None:
    [group] = generation_request(
        songs=[song_with_audio],
        model_version=tiny_version,
        prompt=factories.PromptTemplateFactory(thinking=True),
        samples=3,
        decoding=DECODING,
        seed=7,
    )
    ids = list(group.generations.values_list("pk", flat=True))
    task_id = group.generations.first().celery_task_id
    progress: list[tuple[int, int]] = []
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        summary = generation_run(
            generation_ids=ids, task_id=task_id, on_progress=lambda d, t: progress.append((d, t))
        )
    assert (summary.claimed, summary.succeeded, summary.failed) == (3, 3, 0)
    # Their rewards are queued for the CPU worker once the outputs are committed; run here.
    from annotations.rewards.services import rewards

    scheduled = [c for c in callbacks if getattr(c, "func", None) is rewards._enqueue]
    assert [sorted(c.args[0]) for c in scheduled] == [sorted(ids)]

    rewards.rewards_recompute(generation_ids=ids)
    assert set(
        RewardValue.objects.filter(generation_id__in=ids).values_list("function", flat=True)
    ) == {"format"}, "no reviews and no verified metadata yet: only the format reward applies"
    assert progress[-1] == (3, 3)
    for generation in group.generations.all():
        assert generation.status == Generation.Status.SUCCEEDED
        assert 1 <= generation.output_tokens <= 6
        assert generation.input_tokens > 3 * 25  # 3 s of audio is 75 audio tokens
        assert generation.audio_heard["end"] == pytest.approx(3.0)
        assert generation.audio_heard["truncated"] is False
        assert generation.audio_heard["sha256"] == song_with_audio.audio_files.get().sha256
        assert generation.decoding["rng"]["seed"] == 7
        assert generation.timings["generate"] > 0
        assert "parser_version" in generation.parsed
    # A second delivery of the same task finds nothing left to claim.
    assert generation_run(generation_ids=ids, task_id=task_id).claimed == 0


def test_a_missing_checkpoint_fails_every_row_with_the_reason(song_with_audio) -> None:
    version = factories.ModelVersionFactory(checkpoint_uri="/nonexistent/checkpoint")
    [group] = generation_request(
        songs=[song_with_audio],
        model_version=version,
        prompt=factories.PromptTemplateFactory(),
        samples=2,
    )
    generation = group.generations.first()
    generation_run(
        generation_ids=list(group.generations.values_list("pk", flat=True)),
        task_id=generation.celery_task_id,
    )
    failed = group.generations.filter(status=Generation.Status.FAILED)
    assert failed.count() == 2
    assert failed.first().error.startswith("Could not load model version")


def test_an_output_with_nul_characters_is_stored_readably(song_with_audio) -> None:
    generation = factories.GenerationFactory(song=song_with_audio, status=Generation.Status.RUNNING)
    generation_record_output(
        generation=generation,
        raw_text="A\x00B",
        input_tokens=1,
        output_tokens=2,
        rng={},
        timings={},
    )
    generation.refresh_from_db()
    assert generation.raw_text == "A\ufffdB"


def test_an_expert_confirms_and_reopens_a_hint(expert_user) -> None:
    hint = GenerationHint.objects.create(
        generation=factories.GenerationFactory(), kind="tempo", message="120 BPM vs 96 measured"
    )
    hint = generation_hint_decide(hint=hint, status="confirmed", actor=expert_user)
    assert (hint.status, hint.decided_by) == ("confirmed", expert_user)
    assert hint.decided_at is not None
    hint = generation_hint_decide(hint=hint, status="open", actor=expert_user)
    assert (hint.decided_by, hint.decided_at) == (None, None)


def test_the_thinking_split_lands_in_think_and_answer_text() -> None:
    parsed = parse("<think>Step 1: drums.</think><answer>A rock song at 120 BPM.</answer>")
    assert parsed.think_text == "Step 1: drums."
    assert parsed.answer_text == "A rock song at 120 BPM."


def test_build_tiny_model_registers_a_version_with_its_weights_hash(tmp_path: Path) -> None:
    call_command("build_tiny_model", str(tmp_path / "tiny"), "--name", "tiny-cmd")
    version = ModelVersion.objects.get(name="tiny-cmd")
    assert version.checkpoint_uri == str((tmp_path / "tiny").resolve())
    assert len(version.checkpoint_sha256) == 64


def test_the_generate_command_runs_inline_and_reports(
    tiny_version: ModelVersion, song_with_audio, capsys
) -> None:
    prompt = factories.PromptTemplateFactory(name="cmd-prompt")
    call_command(
        "generate",
        "--songs",
        str(song_with_audio.pk),
        "--model-version",
        "tiny",
        "--prompt",
        "cmd-prompt",
        "--samples",
        "2",
        "--max-new-tokens",
        "4",
        "--inline",
    )
    out = capsys.readouterr().out
    assert "Queued 2 generation(s) in 1 group(s)." in out
    assert "2 succeeded, 0 failed." in out
    assert Generation.objects.filter(prompt=prompt, status="succeeded").count() == 2


def test_the_generate_command_names_an_unknown_song(tiny_version: ModelVersion) -> None:
    with pytest.raises(CommandError, match="No song with id 999999"):
        call_command("generate", "--songs", "999999", "--model-version", "tiny", "--prompt", "x")


def test_hints_come_from_the_song_analysis_and_point_at_the_claim(song_with_audio) -> None:
    SongAnalysis.objects.create(
        song=song_with_audio,
        audio_file=song_with_audio.audio_files.get(),
        analyser_version="test",
        status="succeeded",
        facts={"tempo_bpm": 96.0, "key_tonic": "G", "key_mode": "major"},
    )
    generation = factories.GenerationFactory(song=song_with_audio, status=Generation.Status.RUNNING)
    raw = "<think>It feels fast.</think><answer>A waltz at 140 BPM in E-flat minor.</answer>"
    generation_record_output(
        generation=generation, raw_text=raw, input_tokens=1, output_tokens=1, rng={}, timings={}
    )
    tempo = generation.hints.get(kind="tempo")
    assert raw[tempo.start_char : tempo.end_char] == tempo.quoted_text == "140 BPM"
    assert tempo.status == "open" and "96" in tempo.message
    assert generation.hints.filter(kind="key").exists()
    assert generation.answer_text == "A waltz at 140 BPM in E-flat minor."
    assert generation.think_text == "It feels fast."


def test_a_redelivered_task_takes_back_the_rows_its_lost_worker_had_claimed(
    tiny_version: ModelVersion, song_with_audio
) -> None:
    [group] = generation_request(
        songs=[song_with_audio],
        model_version=tiny_version,
        prompt=factories.PromptTemplateFactory(),
        samples=2,
        decoding=DECODING,
    )
    task_id = group.generations.first().celery_task_id
    ids = list(group.generations.values_list("pk", flat=True))
    # The first delivery claimed the rows, then its worker died (acks_late redelivers the task).
    group.generations.update(status=Generation.Status.RUNNING)
    assert generation_run(generation_ids=ids, task_id=task_id).claimed == 0
    summary = generation_run(generation_ids=ids, task_id=task_id, redelivered=True)
    assert (summary.claimed, summary.succeeded) == (2, 2)


@pytest.mark.subprocess
def test_the_inference_benchmark_runs_unchanged_on_the_tiny_model() -> None:
    import subprocess
    import sys

    from tests.processes import ROOT

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.inference",
            "--items",
            "3",
            "--shortest",
            "2",
            "--longest",
            "4",
            "--max-new-tokens",
            "2",
            "--batch-size",
            "3",
            "--model-dir",
            str(tiny_model_path()),
            # Three 2–4 s clips check that it runs; its speed target is for the real sizes
            # (bash benchmarks/run.sh inference), where batching has work to amortise.
            "--min-speedup",
            "0",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "batched / one at a time:" in result.stdout
    assert "audio-s/s" in result.stdout and "tokens/s" in result.stdout


def test_an_analysis_that_finishes_later_raises_hints_and_keeps_decided_ones(
    tmp_path: Path, expert_user
) -> None:
    from annotations.generations.services.generations import generation_hint_decide
    from annotations.songs.services.analysis import song_analysis_request, song_analysis_run

    song = factories.SongFactory(title="Pulse at 120 BPM")
    audio_file_add(song=song, source=write_tone(tmp_path / "pulse.wav", seconds=12.0))
    generation = factories.GenerationFactory(song=song, status=Generation.Status.RUNNING)
    raw = "<answer>A waltz at 170 BPM in E-flat minor, with a tempo of 170 BPM throughout.</answer>"
    generation_record_output(
        generation=generation, raw_text=raw, input_tokens=1, output_tokens=1, rng={}, timings={}
    )
    assert not generation.hints.exists(), "no analysis yet: nothing to compare with"

    analysis = song_analysis_run(analysis=song_analysis_request(song=song))
    assert analysis.status == "succeeded", analysis.error
    tempo_hints = list(generation.hints.filter(kind="tempo").order_by("start_char"))
    assert [raw[h.start_char : h.end_char] for h in tempo_hints] == ["170 BPM", "170 BPM"]
    generation_hint_decide(hint=tempo_hints[0], status="dismissed", actor=expert_user)

    # Analysing again (a new analyser, say) replaces open hints and keeps the expert's decision.
    song_analysis_run(analysis=song_analysis_request(song=song, force=True))
    statuses = sorted(generation.hints.filter(kind="tempo").values_list("status", flat=True))
    assert statuses == ["dismissed", "open"]
