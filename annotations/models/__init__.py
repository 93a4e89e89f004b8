from annotations.models.analysis import SongAnalysis
from annotations.models.audit import (
    AuditFactsVersion,
    AuditFlagFact,
    AuditGenerationCategoryFact,
    AuditGenerationFact,
    AuditReviewFact,
)
from annotations.models.experts import ExpertProfile
from annotations.models.generations import Generation, GenerationGroup
from annotations.models.hints import GenerationHint
from annotations.models.model_versions import ModelVersion
from annotations.models.prompts import PromptTemplate
from annotations.models.reviews import Flag, Review
from annotations.models.rewards import CompositeReward, RewardProfile, RewardValue
from annotations.models.songs import AudioFile, Song
from annotations.models.tasks import TaskClaim
from annotations.models.taxonomy import ErrorCategory
from annotations.models.training import (
    DatasetExample,
    DatasetSnapshot,
    ModelEvaluation,
    TrainingMetric,
    TrainingRun,
)
from annotations.models.vocabulary import Culture, Genre, Instrument, Language

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
