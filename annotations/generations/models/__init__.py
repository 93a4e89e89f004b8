"""The generations room's tables: prompts, model versions, generations and their machine hints."""

from annotations.generations.models.generations import Generation, GenerationGroup
from annotations.generations.models.hints import GenerationHint
from annotations.generations.models.model_versions import ModelVersion
from annotations.generations.models.prompts import PromptTemplate

__all__ = ["Generation", "GenerationGroup", "GenerationHint", "ModelVersion", "PromptTemplate"]
