"""The Django admin: where admins edit vocabularies, the error taxonomy, prompts and model versions.

Rows written by the product's own flows (generations, reviews, flags) are read-only here, so the
admin cannot bypass the services' checks (version counters, span validation).
"""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from annotations import models


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(models.Genre, models.Language)
class VocabularyAdmin(admin.ModelAdmin):
    list_display: tuple[str, ...] = ("name", "slug")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(models.Culture)
class CultureAdmin(VocabularyAdmin):
    list_display = ("name", "slug", "region")
    list_filter = ("region",)


@admin.register(models.Instrument)
class InstrumentAdmin(VocabularyAdmin):
    list_display = ("name", "slug", "family", "culture")
    list_filter = ("family",)


class ReadOnlyInline(admin.TabularInline):
    """Rows shown beside their parent but written only by the product's services."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AudioFileInline(ReadOnlyInline):
    # Audio arrives through upload/import, which hash and validate it.
    model = models.AudioFile
    fields = (
        "original_filename",
        "format",
        "duration_seconds",
        "sample_rate",
        "channels",
        "sha256",
        "probe_error",
    )


@admin.register(models.Song)
class SongAdmin(admin.ModelAdmin):
    list_display = ("title", "artist", "year", "status", "created_at")
    list_filter = ("status", "genres", "cultures")
    search_fields = ("title", "artist", "album")
    filter_horizontal = ("genres", "cultures", "languages")
    inlines = [AudioFileInline]


@admin.register(models.ErrorCategory)
class ErrorCategoryAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "aspect", "is_active", "sort_order")
    list_filter = ("kind", "aspect", "is_active")
    search_fields = ("code", "name", "description")
    list_editable = ("is_active", "sort_order")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # Codes are referenced by exports and rewards: stable once created.
        return ("code",) if obj is not None else ()


@admin.register(models.PromptTemplate)
class PromptTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "version", "thinking", "is_active", "created_at")
    list_filter = ("thinking", "is_active")
    search_fields = ("name", "text")
    readonly_fields = ("version", "created_by")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # A name is the prompt's identity across versions: fixed once created.
        return (*self.readonly_fields, "name") if obj is not None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # Generations point at the exact text they were asked with: an edit of the text, the
        # thinking switch or the gold answer (which their accuracy rewards were scored against)
        # becomes the next version instead of rewriting this one.
        if change and {"text", "thinking", "answer_field", "answer_options"} & set(
            form.changed_data
        ):
            from annotations.generations.services.prompts import prompt_template_save_version

            prompt_template_save_version(prompt=obj, actor=request.user)
            return
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(models.ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("name", "variant", "status", "parent", "checkpoint_uri", "created_at")
    list_filter = ("status", "variant")
    search_fields = ("name", "checkpoint_uri")
    raw_id_fields = ("parent", "training_run")


@admin.register(models.ExpertProfile)
class ExpertProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "display_name", "is_available")
    filter_horizontal = ("genres", "cultures", "languages", "instruments")


@admin.register(models.DatasetSnapshot)
class DatasetSnapshotAdmin(ReadOnlyAdmin):
    # Built and frozen by annotations.datasets.services only; frozen snapshots never change.
    list_display = ("name", "status", "content_sha256", "created_at")
    list_filter = ("status",)
    search_fields = ("name", "content_sha256")


@admin.register(models.TrainingRun)
class TrainingRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "stage", "status", "base_version", "dataset_snapshot", "created_at")
    list_filter = ("stage", "status")


@admin.register(models.Generation)
class GenerationAdmin(ReadOnlyAdmin):
    list_display = ("id", "song", "model_version", "prompt", "status", "created_at")
    list_filter = ("status", "model_version")
    search_fields = ("song__title", "answer_text")


class FlagInline(ReadOnlyInline):
    model = models.Flag
    fields = (
        "category",
        "target",
        "start_char",
        "end_char",
        "quoted_text",
        "severity",
        "audio_start_seconds",
        "audio_end_seconds",
        "correction",
    )


@admin.register(models.Review)
class ReviewAdmin(ReadOnlyAdmin):
    list_display = ("id", "generation", "expert", "status", "verdict", "updated_at")
    list_filter = ("status", "verdict")
    inlines = [FlagInline]
