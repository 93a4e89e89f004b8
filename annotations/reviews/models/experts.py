"""What each expert declares they know: later used to route review work to them."""

from django.conf import settings
from django.db import models

from annotations.core.models import TimestampedModel
from annotations.songs.models.vocabulary import Culture, Genre, Instrument, Language


class ExpertProfile(TimestampedModel):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="expert_profile"
    )
    display_name = models.CharField(max_length=120, blank=True)
    bio = models.TextField(blank=True)
    genres = models.ManyToManyField(Genre, blank=True, related_name="experts")
    cultures = models.ManyToManyField(Culture, blank=True, related_name="experts")
    languages = models.ManyToManyField(Language, blank=True, related_name="experts")
    instruments = models.ManyToManyField(Instrument, blank=True, related_name="experts")
    is_available = models.BooleanField(default=True, help_text="Receives new review work.")

    class Meta:
        ordering = ["user__username"]

    def __str__(self) -> str:
        return self.display_name or self.user.get_username()
