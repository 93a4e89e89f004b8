"""Forms for the pages. Validation messages here are what people read: say what to fix."""

from __future__ import annotations

from django import forms

from annotations.songs.models import Culture, Genre, Language
from annotations.songs.services.song_import import SongMetadata


class SongMetadataForm(forms.Form):
    """Metadata applied to every file of one upload batch (title defaults to each file's name)."""

    title = forms.CharField(
        max_length=300, required=False, help_text="Leave blank to use each file's name."
    )
    artist = forms.CharField(max_length=300, required=False)
    album = forms.CharField(max_length=300, required=False)
    year = forms.IntegerField(min_value=1000, max_value=2100, required=False)
    genres = forms.ModelMultipleChoiceField(
        queryset=Genre.objects.all(), to_field_name="slug", required=False
    )
    cultures = forms.ModelMultipleChoiceField(
        queryset=Culture.objects.all(),
        to_field_name="slug",
        required=False,
        label="Culture / region / tradition",
    )
    languages = forms.ModelMultipleChoiceField(
        queryset=Language.objects.all(), to_field_name="slug", required=False
    )
    licence = forms.CharField(max_length=200, required=False)
    source = forms.CharField(max_length=500, required=False, help_text="Label, archive or URL.")
    tags = forms.CharField(
        max_length=1000, required=False, help_text="Free tags, separated by commas."
    )

    def metadata(self) -> SongMetadata:
        data = self.cleaned_data
        return SongMetadata(
            title=data["title"],
            artist=data["artist"],
            album=data["album"],
            year=data["year"],
            genres=[g.slug for g in data["genres"]],
            cultures=[c.slug for c in data["cultures"]],
            languages=[lang.slug for lang in data["languages"]],
            licence=data["licence"],
            source=data["source"],
            tags=[t.strip() for t in data["tags"].split(",") if t.strip()],
        )
