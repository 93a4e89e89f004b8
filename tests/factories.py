"""factory_boy factories for the rows tests need. Vocabularies and the taxonomy come from migrations."""

from __future__ import annotations

import hashlib

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from annotations import models
from annotations.core.roles import ADMIN, AUDITOR, EXPERT

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def role(self, create: bool, extracted: str | None, **kwargs: object) -> None:
        if extracted:
            self.groups.add(Group.objects.get(name=extracted))
            self.is_staff = extracted == ADMIN
        self.save()


def expert(**kwargs: object):  # type: ignore[no-untyped-def]
    return UserFactory(role=EXPERT, **kwargs)


def admin(**kwargs: object):  # type: ignore[no-untyped-def]
    return UserFactory(role=ADMIN, **kwargs)


def auditor(**kwargs: object):  # type: ignore[no-untyped-def]
    return UserFactory(role=AUDITOR, **kwargs)


class VocabularyTermFactory(factory.django.DjangoModelFactory):
    class Meta:
        abstract = True
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"term-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())


class GenreFactory(VocabularyTermFactory):
    class Meta:
        model = models.Genre


class CultureFactory(VocabularyTermFactory):
    class Meta:
        model = models.Culture

    region = "Somewhere"


class SongFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Song

    title = factory.Sequence(lambda n: f"Song {n}")
    artist = "Test Artist"


class AudioFileFactory(factory.django.DjangoModelFactory):
    """A row without a stored file; tests that need the bytes use the audio_files service."""

    class Meta:
        model = models.AudioFile

    song = factory.SubFactory(SongFactory)
    sha256 = factory.Sequence(lambda n: hashlib.sha256(str(n).encode()).hexdigest())
    size_bytes = 1000
    file = factory.LazyAttribute(lambda o: f"audio/{o.sha256[:2]}/{o.sha256}.wav")


class ModelVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ModelVersion

    name = factory.Sequence(lambda n: f"version-{n}")
    checkpoint_uri = "nvidia/music-flamingo-2601-hf"


class PromptTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.PromptTemplate

    name = factory.Sequence(lambda n: f"prompt-{n}")
    text = "Describe this track in full detail."


class GenerationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Generation

    song = factory.SubFactory(SongFactory)
    model_version = factory.SubFactory(ModelVersionFactory)
    prompt = factory.SubFactory(PromptTemplateFactory)
    status = models.Generation.Status.SUCCEEDED
    answer_text = "A mid-tempo rock groove in A minor at 120 BPM with drums, bass and a synth pad."


class ReviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Review

    generation = factory.SubFactory(GenerationFactory)
    expert = factory.LazyFunction(expert)


class FlagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Flag

    review = factory.SubFactory(ReviewFactory)
    category = factory.LazyFunction(
        lambda: models.ErrorCategory.objects.get(code="instrument-not-present")
    )
    start_char = 63
    end_char = 68
    quoted_text = "drums"


SAMPLE_OUTPUT = (
    "<think>Step 1: The pulse is steady at about 92 BPM with a backbeat on 2 and 4.\n"
    "Step 2: A sitar plays the melody from 0:12, with tabla underneath.\n"
    "Step 3: The drone and the melodic turns suggest D minor.\n"
    "Step 4: The bright cymbal crashes at 1:05 mark the start of the chorus.</think>\n"
    "<answer>## Genre\nA Hindustani classical fusion piece with a pop backbeat.\n"
    "## Instrumentation\nSitar carries the melody over tabla, a drone and a soft synth pad. "
    "Cymbal crashes mark the chorus.\n"
    "## Harmony\nThe piece stays in D minor at 92 BPM in 4/4.\n"
    "## Structure\nIntro 0:00-0:12, verse 0:12-1:05, chorus from 1:05.\n"
    "## Vocals\nA female voice sings in Hindi.</answer>"
)


def generation_with_output(raw_text: str = SAMPLE_OUTPUT, **kwargs: object) -> models.Generation:
    """A finished generation whose text went through the real parser (sections, steps, claims)."""
    from annotations.generations.services import parsing as generation_parsing

    parsed = generation_parsing.parse(raw_text)
    return GenerationFactory(  # type: ignore[no-any-return]
        raw_text=raw_text,
        think_text=parsed.think_text,
        answer_text=parsed.answer_text,
        parsed=parsed.data,
        **kwargs,
    )


def _now():  # type: ignore[no-untyped-def]
    from django.utils import timezone

    return timezone.now()


class RewardProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.RewardProfile

    name = factory.Sequence(lambda n: f"profile-{n}")
    weights = factory.LazyFunction(lambda: {"format": 1.0})


class RewardValueFactory(factory.django.DjangoModelFactory):
    """A stored reward; ``model_version`` follows the generation's, as the recompute writes it."""

    class Meta:
        model = models.RewardValue

    generation = factory.SubFactory(GenerationFactory)
    model_version = factory.LazyAttribute(lambda o: o.generation.model_version)
    function = "format"
    function_version = 1
    value = 1.0
    inputs_hash = factory.Sequence(lambda n: f"{n:032x}")
    computed_at = factory.LazyFunction(_now)


class CompositeRewardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.CompositeReward

    generation = factory.SubFactory(GenerationFactory)
    profile = factory.SubFactory(RewardProfileFactory)
    model_version = factory.LazyAttribute(lambda o: o.generation.model_version)
    value = 1.0
    computed_at = factory.LazyFunction(_now)


class DatasetSnapshotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.DatasetSnapshot

    name = factory.Sequence(lambda n: f"snapshot-{n}")
    status = models.DatasetSnapshot.Status.FROZEN


class TrainingRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.TrainingRun

    stage = models.TrainingRun.Stage.SFT
    base_version = factory.SubFactory(ModelVersionFactory)
    dataset_snapshot = factory.SubFactory(DatasetSnapshotFactory)


class ModelEvaluationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ModelEvaluation

    model_version = factory.SubFactory(ModelVersionFactory)
    snapshot = factory.SubFactory(DatasetSnapshotFactory)
