"""Trained versions: registration from a run's output, promotion to serving, retirement, and
generation with a trained version's weights under storage."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.conf import settings
from django.db import IntegrityError, transaction

from annotations.core.errors import ValidationFailed
from annotations.generations.models import Generation, ModelVersion
from annotations.generations.selectors import generation_form_defaults
from annotations.generations.services.generations import (
    generation_request,
    generation_run,
    model_config_for,
)
from annotations.songs.services.audio_files import audio_file_add
from annotations.training.models import TrainingRun
from annotations.training.services.model_versions import (
    model_version_promote,
    model_version_register_local,
    model_version_register_trained,
    model_version_retire,
)
from modeling.config import DecodingParams
from tests import factories
from tests.audio_files import write_tone
from tests.tiny_models import tiny_model_path

if TYPE_CHECKING:
    from modeling.training.runner import TrainingResult

pytestmark = pytest.mark.django_db


@dataclass
class FakeResult:
    """What ``modeling.training.runner.TrainingResult`` carries, for the rules that need no
    training (the last test registers a real run's output)."""

    status: str
    final_dir: Path | None
    adapter_dir: Path | None = None
    step: int = 2
    total_steps: int = 2


def run_output(run: TrainingRun, *, adapter: bool = True) -> FakeResult:
    """A run's folder under storage as the runner leaves it: merged weights (the tiny model, saved
    with save_pretrained) in final/, a LoRA adapter in adapter/."""
    folder = Path(settings.MEDIA_ROOT) / "training" / f"run-{run.pk}"
    shutil.copytree(tiny_model_path(), folder / "final")
    adapter_dir = None
    if adapter:
        adapter_dir = folder / "adapter"
        adapter_dir.mkdir()
        (adapter_dir / "adapter_model.safetensors").write_bytes(b"lora")
    return FakeResult("completed", folder / "final", adapter_dir)


@pytest.fixture
def base() -> ModelVersion:
    return model_version_register_local(
        name="tiny-base",
        directory=tiny_model_path(),
        variant=ModelVersion.Variant.INSTRUCT,
        dtype="float32",
    )


def test_a_finished_run_registers_a_candidate_child_with_storage_relative_paths(base) -> None:
    run = factories.TrainingRunFactory(base_version=base, stage="sft")
    version = model_version_register_trained(run=run, result=run_output(run))
    assert version.name == f"tiny-base-sft-{run.pk}"
    assert (version.parent, version.training_run) == (base, run)
    assert version.status == ModelVersion.Status.CANDIDATE
    assert version.variant == ModelVersion.Variant.INSTRUCT  # SFT keeps the parent's variant
    assert version.checkpoint_uri == f"training/run-{run.pk}/final"
    assert version.adapter_uri == f"training/run-{run.pk}/adapter"
    assert version.dtype == "float32"


@pytest.mark.parametrize("stage", ["cot", "grpo"])
def test_reasoning_stages_make_a_think_version(base, stage: str) -> None:
    run = factories.TrainingRunFactory(base_version=base, stage=stage)
    version = model_version_register_trained(run=run, result=run_output(run, adapter=False))
    assert version.variant == ModelVersion.Variant.THINK
    assert version.adapter_uri == ""


def test_the_hash_is_over_the_weight_files_in_name_order(base) -> None:
    run = factories.TrainingRunFactory(base_version=base)
    result = run_output(run, adapter=False)
    assert result.final_dir is not None
    expected = hashlib.sha256()
    for path in sorted(result.final_dir.glob("*.safetensors")):
        expected.update(path.name.encode() + b"\0" + path.read_bytes())
    version = model_version_register_trained(run=run, result=result)
    assert version.checkpoint_sha256 == expected.hexdigest()
    assert version.checkpoint_sha256 == base.checkpoint_sha256  # same bytes, same identity


def test_registering_a_run_twice_returns_the_same_version(base) -> None:
    run = factories.TrainingRunFactory(base_version=base)
    result = run_output(run)
    first = model_version_register_trained(run=run, result=result)
    again = model_version_register_trained(run=run, result=result)
    assert again.pk == first.pk
    assert ModelVersion.objects.filter(training_run=run).count() == 1


def test_a_cancelled_run_makes_no_version(base) -> None:
    run = factories.TrainingRunFactory(base_version=base)
    result = run_output(run)
    result.status = "cancelled"
    with pytest.raises(ValidationFailed, match="ended cancelled"):
        model_version_register_trained(run=run, result=result)


def test_weights_outside_storage_are_refused(base, tmp_path: Path) -> None:
    run = factories.TrainingRunFactory(base_version=base)
    outside = tmp_path / "elsewhere"
    shutil.copytree(tiny_model_path(), outside)
    with pytest.raises(ValidationFailed, match="not under the storage root"):
        model_version_register_trained(run=run, result=FakeResult("completed", outside))


def test_promoting_sends_the_serving_version_of_that_variant_back_to_candidate(
    admin_user,
) -> None:
    old = factories.ModelVersionFactory(variant="think", status="serving")
    other_variant = factories.ModelVersionFactory(variant="instruct", status="serving")
    new = factories.ModelVersionFactory(variant="think")
    model_version_promote(version=new, actor=admin_user)
    old.refresh_from_db()
    new.refresh_from_db()
    other_variant.refresh_from_db()
    assert new.status == "serving" and new.promoted_at is not None
    assert old.status == "candidate"
    assert other_variant.status == "serving"


def test_a_retired_version_can_be_promoted_back(admin_user) -> None:
    version = factories.ModelVersionFactory(status="retired")
    assert model_version_promote(version=version, actor=admin_user).status == "serving"


def test_the_serving_version_cannot_be_retired(admin_user) -> None:
    serving = factories.ModelVersionFactory(status="serving", name="flamingo-think")
    with pytest.raises(ValidationFailed, match="promote another version of that variant first"):
        model_version_retire(version=serving, actor=admin_user)
    serving.refresh_from_db()
    assert serving.status == "serving"


def test_retiring_a_candidate_stops_new_requests_for_it(admin_user, tmp_path: Path) -> None:
    version = model_version_retire(version=factories.ModelVersionFactory(), actor=admin_user)
    assert version.status == "retired"
    song = factories.SongFactory()
    audio_file_add(song=song, source=write_tone(tmp_path / "t.wav", seconds=1.0))
    with pytest.raises(ValidationFailed, match="is retired"):
        generation_request(
            songs=[song], model_version=version, prompt=factories.PromptTemplateFactory()
        )


def test_the_database_holds_one_serving_version_per_variant() -> None:
    factories.ModelVersionFactory(variant="think", status="serving")
    second = factories.ModelVersionFactory(variant="think")
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=second.pk).update(status="serving")


def test_new_generations_default_to_the_serving_version(admin_user) -> None:
    factories.ModelVersionFactory(name="older")
    chosen = factories.ModelVersionFactory(name="chosen")
    factories.ModelVersionFactory(name="newest")
    model_version_promote(version=chosen, actor=admin_user)
    assert generation_form_defaults()["model_version"] == chosen


def real_run_output(run: TrainingRun) -> TrainingResult:
    """Two smoke SFT steps of the tiny model with LoRA, by the workbench's runner, written where
    the training worker writes a run (under storage)."""
    from modeling.training.config import training_config
    from modeling.training.runner import TrainingJob, run_training

    storage = Path(settings.MEDIA_ROOT)
    (storage / "audio").mkdir(parents=True)
    write_tone(storage / "audio" / "a.wav", seconds=2.0)
    row = {
        "id": "sft-1-caption",
        "song_id": 1,
        "audio": {"path": "audio/a.wav", "sha256": ""},
        "genre": "",
        "culture": "",
        "source": "corrected_caption",
        "messages": [
            {"role": "user", "content": [{"type": "audio"}, {"type": "text", "text": "Describe."}]},
            {"role": "assistant", "content": [{"type": "text", "text": "A march at 120 BPM."}]},
        ],
    }
    dataset = storage / "datasets" / "s"
    (dataset / "sft").mkdir(parents=True)
    for split in ("train", "eval"):
        (dataset / "sft" / f"{split}.jsonl").write_text(json.dumps(row, sort_keys=True) + "\n")
    job = TrainingJob(
        base_checkpoint=str(tiny_model_path()),
        base_revision=None,
        dataset_dir=dataset,
        audio_root=storage,
        output_dir=storage / "training" / f"run-{run.pk}",
        config=training_config("sft", preset="smoke", use_lora=True),
        device="cpu",
    )
    return run_training(job)


@pytest.mark.training
def test_a_version_from_a_real_run_generates_from_its_weights_under_storage(
    base, tmp_path: Path
) -> None:
    run = factories.TrainingRunFactory(base_version=base)
    version = model_version_register_trained(run=run, result=real_run_output(run))
    assert version.checkpoint_uri == f"training/run-{run.pk}/final"
    assert version.adapter_uri == f"training/run-{run.pk}/adapter"
    assert version.checkpoint_sha256 != base.checkpoint_sha256  # trained: other weights
    config = model_config_for(version)
    assert config.checkpoint == str(Path(settings.MEDIA_ROOT) / version.checkpoint_uri)
    song = factories.SongFactory()
    audio_file_add(song=song, source=write_tone(tmp_path / "t.wav", seconds=2.0))
    [group] = generation_request(
        songs=[song],
        model_version=version,
        prompt=factories.PromptTemplateFactory(thinking=True),
        samples=2,
        decoding=DecodingParams(max_new_tokens=4),
        seed=1,
    )
    ids = list(group.generations.values_list("pk", flat=True))
    summary = generation_run(generation_ids=ids, task_id=group.generations.first().celery_task_id)
    assert (summary.succeeded, summary.failed) == (2, 0)
    assert set(Generation.objects.filter(pk__in=ids).values_list("status", flat=True)) == {
        "succeeded"
    }


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_registrations_of_a_run_make_one_version(base) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    run = factories.TrainingRunFactory(base_version=base)
    result = run_output(run)

    def register(_: int) -> int:
        try:
            return model_version_register_trained(run=run, result=result).pk
        finally:
            connection.close()  # each thread has its own connection

    with ThreadPoolExecutor(max_workers=2) as pool:
        pks = list(pool.map(register, range(2)))
    assert pks[0] == pks[1]
    assert ModelVersion.objects.filter(training_run=run).count() == 1
