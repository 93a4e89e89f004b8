"""The reviews room's tables: the error taxonomy, expert profiles, reviews and their flags."""

from annotations.reviews.models.experts import ExpertProfile
from annotations.reviews.models.reviews import Flag, Review
from annotations.reviews.models.taxonomy import ErrorCategory

__all__ = ["ErrorCategory", "ExpertProfile", "Flag", "Review"]
