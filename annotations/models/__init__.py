"""Django's registry of the app's models: every room's tables under the one ``annotations`` label.

Rooms import their own and lower rooms' models from ``annotations.<room>.models``, never from here;
this module exists because Django loads ``<app>.models``. The table names (``annotations_*``) and
migrations predate the rooms and stay as they are.
"""

from annotations.audit.models import (
    AuditFactsVersion,
    AuditFlagFact,
    AuditGenerationCategoryFact,
    AuditGenerationFact,
    AuditReviewFact,
)
from annotations.core.models import TaskClaim
from annotations.datasets.models import DatasetExample, DatasetSnapshot
from annotations.generations.models import (
    Generation,
    GenerationGroup,
    GenerationHint,
    ModelVersion,
    PromptTemplate,
)
from annotations.reviews.models import ErrorCategory, ExpertProfile, Flag, Review
from annotations.rewards.models import CompositeReward, RewardProfile, RewardValue
from annotations.songs.models import (
    AudioFile,
    Culture,
    Genre,
    Instrument,
    Language,
    Song,
    SongAnalysis,
)
from annotations.training.models import ModelEvaluation, TrainingMetric, TrainingRun

__all__ = [
    "AudioFile",
    "AuditFactsVersion",
    "AuditFlagFact",
    "AuditGenerationCategoryFact",
    "AuditGenerationFact",
    "AuditReviewFact",
    "CompositeReward",
    "Culture",
    "DatasetExample",
    "DatasetSnapshot",
    "ErrorCategory",
    "ExpertProfile",
    "Flag",
    "Generation",
    "GenerationGroup",
    "GenerationHint",
    "Genre",
    "Instrument",
    "Language",
    "ModelEvaluation",
    "ModelVersion",
    "PromptTemplate",
    "Review",
    "RewardProfile",
    "RewardValue",
    "Song",
    "SongAnalysis",
    "TaskClaim",
    "TrainingMetric",
    "TrainingRun",
]
