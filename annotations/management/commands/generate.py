"""Ask a model version about songs from the command line, with a progress bar."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import QuerySet
from tqdm import tqdm

from annotations.core.errors import ValidationFailed
from annotations.generations.models import Generation, ModelVersion, PromptTemplate
from annotations.generations.services.generations import (
    decoding_params,
    generation_request,
    generation_run,
)
from annotations.songs.models import Song


class Command(BaseCommand):
    help = (
        "Queue N sibling generations per song on the gpu_inference workers and follow them "
        "(--inline runs them in this process instead, without a worker)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--songs", nargs="+", type=int, required=True, help="Song ids.")
        parser.add_argument("--model-version", required=True, help="Model version name or id.")
        parser.add_argument(
            "--prompt", required=True, help="Prompt name (latest active) or NAME:VERSION."
        )
        parser.add_argument("--samples", type=int, default=5)
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--max-new-tokens", type=int, default=1024)
        parser.add_argument("--temperature", type=float, default=0.7)
        parser.add_argument("--top-p", type=float, default=0.95)
        parser.add_argument("--greedy", action="store_true", help="No sampling.")
        parser.add_argument("--inline", action="store_true", help="Run here, not on a worker.")
        parser.add_argument("--no-wait", action="store_true", help="Queue and return at once.")
        parser.add_argument("--timeout", type=float, default=24 * 3600)

    def handle(self, *args: Any, **options: Any) -> None:
        songs = list(Song.objects.filter(pk__in=options["songs"]))
        missing = set(options["songs"]) - {s.pk for s in songs}
        if missing:
            raise CommandError(f"No song with id {', '.join(map(str, sorted(missing)))}.")
        try:
            decoding = decoding_params(
                max_new_tokens=options["max_new_tokens"],
                do_sample=not options["greedy"],
                temperature=options["temperature"],
                top_p=options["top_p"],
            )
            groups = generation_request(
                songs=songs,
                model_version=_model_version(options["model_version"]),
                prompt=_prompt(options["prompt"]),
                samples=options["samples"],
                decoding=decoding,
                seed=options["seed"],
            )
        except (ValidationFailed, ValueError) as exc:
            raise CommandError(getattr(exc, "message", str(exc))) from exc
        generations = Generation.objects.filter(group__in=groups)
        total = generations.count()
        self.stdout.write(f"Queued {total} generation(s) in {len(groups)} group(s).")
        if options["no_wait"]:
            return
        with tqdm(total=total, unit="gen", desc="generating") as bar:
            if options["inline"]:
                # Same service as the worker's task, one chunk at a time, in this process.
                for task_id in sorted(set(generations.values_list("celery_task_id", flat=True))):
                    ids = list(
                        generations.filter(celery_task_id=task_id).values_list("pk", flat=True)
                    )
                    generation_run(generation_ids=ids, task_id=task_id)
                    bar.update(_finished(generations) - bar.n)
            deadline = time.monotonic() + options["timeout"]
            finished = 0
            while time.monotonic() < deadline:
                finished = _finished(generations)
                bar.update(finished - bar.n)
                if finished == total:
                    break
                time.sleep(1)
        succeeded = generations.filter(status=Generation.Status.SUCCEEDED).count()
        failed = generations.filter(status=Generation.Status.FAILED)
        self.stdout.write(f"{succeeded} succeeded, {failed.count()} failed.")
        for generation in failed[:10]:
            self.stdout.write(f"  #{generation.pk}: {generation.error}")
        if finished < total:
            raise CommandError("Timed out waiting for the workers; the generations stay queued.")


def _finished(generations: QuerySet[Generation]) -> int:
    return generations.filter(
        status__in=[Generation.Status.SUCCEEDED, Generation.Status.FAILED]
    ).count()


def _model_version(ref: str) -> ModelVersion:
    query = (
        ModelVersion.objects.filter(pk=int(ref))
        if ref.isdigit()
        else ModelVersion.objects.filter(name=ref)
    )
    version = query.first()
    if version is None:
        raise CommandError(f"No model version {ref!r}.")
    return version


def _prompt(ref: str) -> PromptTemplate:
    name, _, version = ref.partition(":")
    prompts = PromptTemplate.objects.filter(name=name)
    prompt = (
        prompts.filter(version=int(version)).first()
        if version.isdigit()
        else prompts.filter(is_active=True).order_by("-version").first()
    )
    if prompt is None:
        raise CommandError(f"No prompt {ref!r}.")
    return prompt
