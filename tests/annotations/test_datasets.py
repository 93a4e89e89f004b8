"""Dataset snapshots: rows, files, splits and immutability (annotations.datasets.services)."""

from __future__ import annotations

import datetime
import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from annotations.core.errors import ValidationFailed
from annotations.datasets.models import DatasetExample, DatasetSnapshot
from annotations.datasets.services import (
    content_sha256,
    snapshot_build,
    snapshot_create,
    snapshot_retry,
    split_by_song,
)
from annotations.generations.services.prompts import prompt_full_text
from annotations.reviews.models import Review
from tests import factories
from tests.snapshots import CORRECTED, ReviewedSongs, build_test_snapshot, reviewed_songs

pytestmark = pytest.mark.django_db

FORMATS = ("sft", "grpo", "dpo")
SPLITS = ("train", "eval")


def _folder(snapshot: DatasetSnapshot) -> Path:
    return Path(settings.MEDIA_ROOT) / snapshot.storage_path


def _rows(snapshot: DatasetSnapshot, fmt: str, split: str | None = None) -> list[dict]:
    rows = []
    for name in [split] if split else SPLITS:
        text = (_folder(snapshot) / fmt / f"{name}.jsonl").read_text(encoding="utf-8")
        rows += [json.loads(line) for line in text.splitlines()]
    return rows


def _text(messages: list[dict]) -> str:
    """The text part of the first message (the user's comes after the audio placeholder)."""
    return next(part["text"] for part in messages[0]["content"] if part["type"] == "text")


def _target(generation) -> str:  # type: ignore[no-untyped-def]
    return f"<think>{generation.think_text.strip()}</think><answer>{generation.answer_text.strip()}</answer>"


def _build(made: ReviewedSongs, **filters: object) -> DatasetSnapshot:
    return build_test_snapshot(songs=made, filters=dict(filters))


def _attempt(made: ReviewedSongs, **filters: object) -> DatasetSnapshot:
    """A build that may fail (build_test_snapshot insists on success)."""
    snapshot = snapshot_create(
        name=f"attempt-{DatasetSnapshot.objects.count()}",
        filters={"model_versions": [made.version.pk], **filters},
        eval_fraction=0.5,
        split_seed=0,
        actor=None,
        enqueue=False,
    )
    return snapshot_build(snapshot_id=snapshot.pk)


@pytest.fixture
def made(tmp_path: Path) -> ReviewedSongs:
    return reviewed_songs(tmp_path=tmp_path)


# --- files ---------------------------------------------------------------------------------------


def test_every_format_loads_with_datasets_in_both_splits(tmp_path: Path, monkeypatch) -> None:
    from datasets import load_dataset

    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    snapshot = build_test_snapshot(tmp_path=tmp_path)
    columns = {
        "sft": {"messages"},
        "grpo": {"prompt", "answer", "options", "metadata", "analysis"},
        "dpo": {"prompt", "chosen", "rejected"},
    }
    for fmt in FORMATS:
        for split in SPLITS:
            path = _folder(snapshot) / fmt / f"{split}.jsonl"
            dataset = load_dataset(
                "json", data_files=str(path), split="train", cache_dir=str(tmp_path / "hf-cache")
            )
            assert len(dataset) == snapshot.row_counts[fmt][split] > 0
            assert columns[fmt] | {"id", "song_id", "audio", "genre", "culture", "source"} == set(
                dataset.column_names
            )


def test_the_manifest_hashes_match_the_files_and_the_rows_match_the_lines(made) -> None:
    snapshot = _build(made)
    folder = _folder(snapshot)
    assert snapshot.storage_path == f"datasets/{snapshot.content_sha256[:16]}/{snapshot.pk}"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["content_sha256"] == snapshot.content_sha256
    assert manifest["snapshot_id"] == snapshot.pk and manifest["name"] == snapshot.name
    assert manifest["filters"] == snapshot.filters
    assert set(manifest["files"]) == {f"{fmt}/{split}.jsonl" for fmt in FORMATS for split in SPLITS}
    for relative, entry in manifest["files"].items():
        data = (folder / relative).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        lines = data.decode("utf-8").splitlines()
        assert len(lines) == entry["rows"]
        fmt, split = relative.removesuffix(".jsonl").split("/")
        assert snapshot.row_counts[fmt][split] == entry["rows"]
        examples = list(DatasetExample.objects.filter(snapshot=snapshot, format=fmt, split=split))
        assert [e.position for e in examples] == list(range(len(lines)))
        for example, line in zip(examples, lines, strict=True):
            assert example.row_sha256 == hashlib.sha256(line.encode()).hexdigest()
            row = json.loads(line)
            assert (example.song_id, example.source) == (row["song_id"], row["source"])
            assert list(row) == sorted(row)  # keys sorted
    assert content_sha256(manifest["files"]) == snapshot.content_sha256


def test_the_same_inputs_give_the_same_content_hash(made) -> None:
    first = _build(made)
    second = _build(made)
    assert first.storage_path != second.storage_path
    assert first.content_sha256 == second.content_sha256
    for fmt in FORMATS:
        for split in SPLITS:
            relative = f"{fmt}/{split}.jsonl"
            assert (_folder(first) / relative).read_bytes() == (
                _folder(second) / relative
            ).read_bytes()


# --- row sources ---------------------------------------------------------------------------------


def test_sft_rows_are_corrected_captions_accepted_traces_and_accepted_captions(made) -> None:
    snapshot = _build(made)
    rows = {row["id"]: row for row in _rows(snapshot, "sft")}
    song = made.songs[0]
    best, worse, question = (made.generations[song.pk][k] for k in ("best", "worse", "question"))
    trace = rows[f"sft-{best.pk}-accepted_trace"]
    assert trace["source"] == "accepted_trace"
    assert trace["messages"][0]["role"] == "user"
    assert trace["messages"][0]["content"][0] == {"type": "audio"}
    assert trace["messages"][0]["content"][1]["text"] == prompt_full_text(made.caption_prompt)
    assert trace["messages"][1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": _target(best)}],
    }
    correction_review = Review.objects.get(generation=worse, verdict="accept_with_fixes")
    corrected = rows[f"sft-{worse.pk}-correction-{correction_review.pk}"]
    assert corrected["source"] == "corrected_caption"
    assert (
        _text(corrected["messages"][1:])
        == f"<think>{worse.think_text.strip()}</think><answer>{CORRECTED}</answer>"
    )
    caption = rows[f"sft-{question.pk}-accepted_caption"]
    assert _text(caption["messages"][1:]) == question.answer_text
    # The rejected, uncorrected sibling is no SFT target.
    assert f"sft-{worse.pk}-accepted_trace" not in rows
    assert Counter(r["source"] for r in rows.values()) == {
        "accepted_trace": 4,
        "corrected_caption": 4,
        "accepted_caption": 4,
    }


def test_a_correction_whose_expert_found_the_reasoning_wrong_keeps_no_thinking_target(
    made,
) -> None:
    worse = made.generations[made.songs[0].pk]["worse"]
    Review.objects.filter(generation=worse, verdict="accept_with_fixes").update(
        step_grades={"1": "correct", "2": "incorrect", "3": "correct", "4": "correct"}
    )
    snapshot = _build(made)
    ids = {row["id"] for row in _rows(snapshot, "sft") + _rows(snapshot, "dpo")}
    assert not any(i.startswith(f"sft-{worse.pk}-correction") for i in ids)
    assert not any(i.startswith(f"dpo-{worse.pk}-correction") for i in ids)


def test_grpo_rows_carry_the_verified_answer_and_metadata(made) -> None:
    snapshot = _build(made)
    rows = {row["id"]: row for row in _rows(snapshot, "grpo")}
    song = made.songs[0]
    question = rows[f"grpo-{song.pk}-{made.question_prompt.pk}"]
    assert question["source"] == "question"
    assert question["answer"] == "92"
    assert question["options"] is None
    assert question["metadata"]["tempo_bpm"] == 92.0
    assert question["metadata"]["key"] == "D minor"
    assert question["analysis"]["tempo_bpm"] == 92.0 and question["analysis"]["key_tonic"] == "D"
    assert _text(question["prompt"]) == prompt_full_text(made.question_prompt)
    caption = rows[f"grpo-{song.pk}-{made.caption_prompt.pk}"]
    assert caption["source"] == "caption" and caption["answer"] is None
    assert caption["metadata"]["instruments"] == ["sitar", "tabla"]
    assert len(rows) == 2 * len(made.songs)


def test_a_multiple_choice_question_keeps_its_options(made) -> None:
    made.question_prompt.answer_field = "culture"
    made.question_prompt.answer_options = ["Hindustani", "Western", "Brazilian"]
    made.question_prompt.save()
    snapshot = _build(made)
    row = next(r for r in _rows(snapshot, "grpo") if r["source"] == "question")
    assert row["answer"] == "Hindustani"
    assert row["options"] == ["Hindustani", "Western", "Brazilian"]


def test_dpo_rows_prefer_the_higher_ranked_sibling_and_the_correction(made) -> None:
    snapshot = _build(made)
    rows = {row["id"]: row for row in _rows(snapshot, "dpo")}
    best, worse = (made.generations[made.songs[0].pk][k] for k in ("best", "worse"))
    ranking = rows[f"dpo-{best.pk}-{worse.pk}-ranking"]
    assert ranking["source"] == "ranking"
    assert _text(ranking["chosen"]) == _target(best)
    assert _text(ranking["rejected"]) == _target(worse)
    assert ranking["chosen"][0]["role"] == "assistant"
    assert f"dpo-{worse.pk}-{best.pk}-ranking" not in rows
    review = Review.objects.get(generation=worse, verdict="accept_with_fixes")
    correction = rows[f"dpo-{worse.pk}-correction-{review.pk}"]
    assert _text(correction["chosen"]).endswith(f"<answer>{CORRECTED}</answer>")
    assert _text(correction["rejected"]) == _target(worse)
    example = DatasetExample.objects.get(snapshot=snapshot, source="ranking", generation=best)
    assert example.rejected_generation_id == worse.pk
    # Each expert ranked the pair on both siblings' reviews: their latest ranking counts, once.
    assert sorted(example.review_ids) == sorted(
        Review.objects.filter(generation=worse).values_list("pk", flat=True)
    )


def test_a_ranking_the_experts_split_on_gives_no_pair(made) -> None:
    best, worse = (made.generations[made.songs[0].pk][k] for k in ("best", "worse"))
    flipped = {str(best.pk): 2, str(worse.pk): 1}
    second = made.experts[1]
    Review.objects.filter(generation__in=[best, worse], expert=second).update(sibling_ranks=flipped)
    snapshot = _build(made)
    ids = {row["id"] for row in _rows(snapshot, "dpo")}
    assert f"dpo-{best.pk}-{worse.pk}-ranking" not in ids
    assert f"dpo-{worse.pk}-{best.pk}-ranking" not in ids


# --- filters -------------------------------------------------------------------------------------


def test_the_model_version_filter_leaves_out_other_versions(made, tmp_path: Path) -> None:
    other = reviewed_songs(tmp_path=tmp_path / "other", count=2, experts=made.experts)
    snapshot = _build(made)
    song_ids = {row["song_id"] for fmt in FORMATS for row in _rows(snapshot, fmt)}
    assert song_ids == {song.pk for song in made.songs}
    both = _build(made, model_versions=[made.version.pk, other.version.pk])
    assert {row["song_id"] for row in _rows(both, "sft")} == {
        song.pk for song in made.songs + other.songs
    }


def test_the_date_range_counts_only_reviews_submitted_in_it(made) -> None:
    old = timezone.now() - datetime.timedelta(days=30)
    first_song = made.songs[0]
    Review.objects.filter(generation__song=first_song).update(submitted_at=old)
    today = timezone.localdate().isoformat()
    snapshot = _build(made, date_from=today, date_to=today)
    song_ids = {row["song_id"] for fmt in FORMATS for row in _rows(snapshot, fmt)}
    assert first_song.pk not in song_ids
    assert song_ids == {song.pk for song in made.songs[1:]}
    past = (old.date()).isoformat()
    only_old = _build(made, date_from=past, date_to=past)
    assert {row["song_id"] for fmt in FORMATS for row in _rows(only_old, fmt)} == {first_song.pk}


@pytest.mark.parametrize(
    ("key", "slug", "expected"),
    [
        ("genres", "rock", {"Rock"}),
        ("cultures", "hindustani", {"Hindustani classical"}),
    ],
)
def test_genre_and_culture_filters_keep_matching_songs(made, key, slug, expected) -> None:
    snapshot = _build(made, **{key: [slug]})
    assert {row["genre"] for fmt in FORMATS for row in _rows(snapshot, fmt)} == expected


def test_the_verdict_filter_counts_only_reviews_with_those_verdicts(made) -> None:
    snapshot = _build(made, verdicts=["accept"])
    sources = Counter(row["source"] for fmt in FORMATS for row in _rows(snapshot, fmt))
    assert "corrected_caption" not in sources and "correction" not in sources
    assert sources["accepted_trace"] == 4
    # Rankings live on reviews too: the accepting reviews still rank the siblings.
    assert sources["ranking"] == 4
    fixes_only = _build(made, verdicts=["accept_with_fixes"])
    sources = Counter(row["source"] for fmt in FORMATS for row in _rows(fixes_only, fmt))
    assert sources["corrected_caption"] == 4
    assert "accepted_trace" not in sources and "accepted_caption" not in sources


def test_the_minimum_of_agreeing_experts_drops_examples_one_expert_backs(made) -> None:
    lone = made.songs[0]
    Review.objects.filter(generation__song=lone, expert=made.experts[1]).delete()
    one = _build(made, min_agreeing_experts=1)
    two = _build(made, min_agreeing_experts=2)
    assert lone.pk in {row["song_id"] for fmt in FORMATS for row in _rows(one, fmt)}
    assert lone.pk not in {row["song_id"] for fmt in FORMATS for row in _rows(two, fmt)}
    assert two.stats["agreeing_experts"]["grpo"] == {"2": 6}
    assert one.stats["agreeing_experts"]["grpo"] == {"1": 2, "2": 6}


def test_metadata_fields_without_enough_agreeing_experts_are_left_out(made) -> None:
    song = made.songs[0]
    for review in Review.objects.filter(generation__song=song, expert=made.experts[1]):
        review.verified_metadata["key"] = {"value": "A major", "status": "corrected"}
        review.save()
    snapshot = _build(made)
    caption = next(
        r for r in _rows(snapshot, "grpo") if r["song_id"] == song.pk and r["source"] == "caption"
    )
    assert "key" not in caption["metadata"]  # a tie: no majority
    assert caption["metadata"]["tempo_bpm"] == 92.0


def test_the_prompt_kind_filter(made) -> None:
    snapshot = _build(made, prompt_kinds=["question"])
    assert {row["source"] for row in _rows(snapshot, "sft")} == {"accepted_caption"}
    assert {row["source"] for row in _rows(snapshot, "grpo")} == {"question"}
    assert snapshot.row_counts["dpo"] == {"train": 0, "eval": 0}
    assert (_folder(snapshot) / "dpo" / "train.jsonl").read_bytes() == b""
    thinking = _build(made, prompt_kinds=["thinking_caption"])
    assert {row["source"] for row in _rows(thinking, "grpo")} == {"caption"}


def test_filters_are_checked_with_messages_that_say_what_to_fix(db) -> None:
    cases = [
        ({"genres": ["no-such-genre"]}, "Unknown genre: no-such-genre"),
        ({"verdicts": ["maybe"]}, "Unknown verdict(s) maybe"),
        ({"model_versions": [999999]}, "No model version with id 999999"),
        ({"date_from": "2026-02-30"}, "not a date"),
        ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, "start date is after"),
        ({"min_agreeing_experts": 0}, "must be 1 to"),
        ({"prompt_kinds": ["poem"]}, "Unknown prompt kind(s) poem"),
        ({"colour": "blue"}, "Unknown filter(s): colour"),
    ]
    for filters, message in cases:
        with pytest.raises(ValidationFailed, match=None) as caught:
            snapshot_create(name="x", filters=filters, eval_fraction=0.1, split_seed=0, actor=None)
        assert message in caught.value.message
    factories.DatasetSnapshotFactory(name="taken")
    with pytest.raises(ValidationFailed, match="exists already"):
        snapshot_create(name="taken", filters={}, eval_fraction=0.1, split_seed=0, actor=None)
    with pytest.raises(ValidationFailed, match="below 1"):
        snapshot_create(name="y", filters={}, eval_fraction=1.0, split_seed=0, actor=None)
    assert not DatasetSnapshot.objects.filter(name__in=["x", "y"]).exists()


# --- splits --------------------------------------------------------------------------------------


def test_the_docstring_examples_hold() -> None:
    import doctest

    from annotations.datasets import services as datasets

    result = doctest.testmod(datasets)
    assert result.attempted >= 2 and result.failed == 0


def test_the_split_is_stratified_by_genre_and_culture_and_deterministic() -> None:
    strata = {
        song: ("rock", "western") if song < 60 else ("raga", "hindustani") for song in range(80)
    }
    split = split_by_song(strata, eval_fraction=0.25, seed=3)
    assert split == split_by_song(dict(reversed(strata.items())), eval_fraction=0.25, seed=3)
    assert split != split_by_song(strata, eval_fraction=0.25, seed=4)
    eval_by_stratum = Counter(strata[s] for s, name in split.items() if name == "eval")
    assert eval_by_stratum == {("rock", "western"): 15, ("raga", "hindustani"): 5}
    assert sum(1 for name in split.values() if name == "eval") == 20


def test_two_songs_give_one_eval_song_and_no_eval_share_gives_none() -> None:
    assert sorted(split_by_song({1: ("a",), 2: ("a",)}, eval_fraction=0.1, seed=0).values()) == [
        "eval",
        "train",
    ]
    assert set(split_by_song({1: ("a",), 2: ("b",)}, eval_fraction=0.0, seed=0).values()) == {
        "train"
    }


def test_balance_is_recorded_per_split_format_and_genre(made) -> None:
    snapshot = _build(made)
    balance = snapshot.stats["balance"]
    for split in SPLITS:
        assert balance[split]["sft"]["genre"] == {"Hindustani classical": 3, "Rock": 3}
        assert balance[split]["dpo"]["source"] == {"correction": 2, "ranking": 2}
        assert balance[split]["grpo"]["culture"] == {"Hindustani": 2, "Western popular": 2}
    by_db = Counter(
        DatasetExample.objects.filter(snapshot=snapshot, split="eval", format="sft").values_list(
            "genre", flat=True
        )
    )
    assert by_db == balance["eval"]["sft"]["genre"]


# --- immutability and failure --------------------------------------------------------------------


def test_a_frozen_snapshot_is_not_built_twice_nor_changed(made) -> None:
    snapshot = _build(made)
    examples = list(DatasetExample.objects.filter(snapshot=snapshot).values_list("pk", flat=True))
    again = snapshot_build(snapshot_id=snapshot.pk)
    assert again.frozen_at == snapshot.frozen_at
    assert again.content_sha256 == snapshot.content_sha256
    assert list(DatasetExample.objects.filter(snapshot=snapshot).values_list("pk", flat=True)) == (
        examples
    )
    with pytest.raises(ValidationFailed, match="frozen"):
        snapshot_retry(snapshot=snapshot, actor=None)


def test_a_missing_audio_file_fails_the_build_with_a_readable_reason(made) -> None:
    audio = made.songs[1].audio_files.get()
    (Path(settings.MEDIA_ROOT) / audio.file.name).unlink()
    snapshot = _attempt(made)
    assert snapshot.status == DatasetSnapshot.Status.FAILED
    assert "missing from storage" in snapshot.error and audio.file.name in snapshot.error
    assert not DatasetExample.objects.filter(snapshot=snapshot).exists()
    assert snapshot.frozen_at is None and not snapshot.content_sha256
    leftovers = list((Path(settings.MEDIA_ROOT) / "datasets").rglob("*.jsonl"))
    assert leftovers == []
    # Once the cause is fixed, a retry builds it.
    (Path(settings.MEDIA_ROOT) / audio.file.name).parent.mkdir(parents=True, exist_ok=True)
    from tests.audio_files import write_tone

    write_tone(Path(settings.MEDIA_ROOT) / audio.file.name)
    snapshot = snapshot_retry(snapshot=snapshot, actor=None)
    snapshot = snapshot_build(snapshot_id=snapshot.pk)
    assert snapshot.status == DatasetSnapshot.Status.FROZEN, snapshot.error


def test_filters_that_match_nothing_fail_the_build_saying_so(made) -> None:
    snapshot = _attempt(made, min_agreeing_experts=3)
    assert snapshot.status == DatasetSnapshot.Status.FAILED
    assert snapshot.error.startswith("No examples match these filters")


def test_an_unexpected_error_is_recorded_not_raised(made, monkeypatch) -> None:
    from annotations.datasets import services as datasets

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(datasets, "_freeze", broken)
    snapshot = _attempt(made)
    assert snapshot.status == DatasetSnapshot.Status.FAILED
    assert "OSError: disk full" in snapshot.error
    assert list((Path(settings.MEDIA_ROOT) / "datasets").rglob("*.jsonl")) == []


def test_a_killed_builds_half_written_folder_is_removed_by_the_next_build(made) -> None:
    snapshot = snapshot_create(
        name="after-a-crash",
        filters={"model_versions": [made.version.pk]},
        eval_fraction=0.5,
        split_seed=0,
        actor=None,
        enqueue=False,
    )
    leftover = Path(settings.MEDIA_ROOT) / "datasets" / f".building-{snapshot.pk}-dead"
    (leftover / "sft").mkdir(parents=True)
    (leftover / "sft" / "train.jsonl").write_text('{"half": ')
    snapshot = snapshot_build(snapshot_id=snapshot.pk)
    assert snapshot.status == DatasetSnapshot.Status.FROZEN
    assert not leftover.exists()
    assert list((Path(settings.MEDIA_ROOT) / "datasets").iterdir()) == [
        Path(settings.MEDIA_ROOT) / "datasets" / snapshot.content_sha256[:16]
    ]


def test_a_build_reads_in_the_same_number_of_queries_however_many_songs(tmp_path: Path) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for size in (2, 4):
        made = reviewed_songs(tmp_path=tmp_path / str(size), count=size)
        snapshot = snapshot_create(
            name=f"size-{size}",
            filters={"model_versions": [made.version.pk]},
            eval_fraction=0.5,
            split_seed=0,
            actor=None,
            enqueue=False,
        )
        with CaptureQueriesContext(connection) as queries:
            assert snapshot_build(snapshot_id=snapshot.pk).status == DatasetSnapshot.Status.FROZEN
        counts.append(len(queries))
    # The snapshot, read under its lock; generations, reviews, prompts, sibling groups, genres,
    # cultures, audio files, analyses; the examples' insert; the name check and save of the freeze;
    # the savepoint and its release: one each, never one per song.
    assert counts == [14, 14]
