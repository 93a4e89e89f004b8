"""Computing and storing rewards: every function's value for every generation, set-based.

The reward functions are ``modeling.rewards`` (the GRPO trainer calls the same code); this module
feeds them what the workbench knows and stores what they return:

- a batch of generations is loaded with five queries (the outputs; their prompts;
  every submitted review of their songs, which carries the verified metadata, the step grades and
  the sibling rankings; the flags of their own reviews; the members of their sibling groups),
  never one query per row;
- ground truth per song is the experts' agreed value of each verified field
  (``modeling.rewards.ground_truth``), with the agreement recorded in each row's provenance;
- rows are upserted in one statement per batch and only rewritten when their content changes (a
  content hash), so a recompute with the same inputs writes nothing and repeats are harmless;
- composites per active profile are one ``INSERT … SELECT … GROUP BY`` per batch.

Concurrent recomputes of the same song are serialised by a transaction-level advisory lock per song
(PostgreSQL), so an older task can never overwrite a newer one's result.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from annotations.generations.models import Generation, PromptTemplate
from annotations.reviews.models import Flag, Review
from annotations.rewards.models import CompositeReward, RewardProfile, RewardValue

if TYPE_CHECKING:
    from modeling.rewards import RewardFunction

BATCH_SIZE = 2000
_LOCK_CLASS = 6  # advisory-lock namespace for "rewards of one song"


@dataclass
class RecomputeStats:
    generations: int = 0
    written: int = 0  # rows inserted or changed
    unchanged: int = 0
    deleted: int = 0  # rows whose function no longer applies
    composites_written: int = 0

    def add(self, other: RecomputeStats) -> None:
        for name in ("generations", "written", "unchanged", "deleted", "composites_written"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _Row:
    generation_id: int
    model_version_id: int
    function: str
    function_version: int
    value: float
    details: dict[str, Any]
    provenance: dict[str, Any]
    # Serialised once: the same text is hashed and written.
    details_json: str = field(init=False)
    provenance_json: str = field(init=False)
    content_hash: str = field(init=False)

    def __post_init__(self) -> None:
        self.details_json = json.dumps(self.details, sort_keys=True, default=str)
        self.provenance_json = json.dumps(self.provenance, sort_keys=True, default=str)
        payload = f"{self.value!r}|{self.details_json}|{self.provenance_json}"
        self.content_hash = hashlib.md5(payload.encode(), usedforsecurity=False).hexdigest()


def reward_functions() -> list[RewardFunction]:
    """The current version of every reward function, in the library's order."""
    from modeling.rewards import REWARDS

    return list(REWARDS.values())


# --- Entry points ----------------------------------------------------------------------------


def rewards_recompute(
    *,
    generation_ids: Iterable[int] | None = None,
    batch_size: int = BATCH_SIZE,
    on_progress: Callable[[int, int], None] | None = None,
    processes: int = 1,
) -> RecomputeStats:
    """Recompute every reward (and every active profile's composite) of these generations.

    ``None`` means every finished generation. Idempotent: rows whose content would not change are
    not written. ``on_progress(done, total)`` is called after each batch. ``processes`` > 1 (on
    PostgreSQL) spreads the batches over that many processes: the reward functions are Python, so
    one process uses one core, and the per-song advisory locks keep batches that share a song
    apart. Worker processes only see committed data.
    """
    finished = Generation.objects.filter(status=Generation.Status.SUCCEEDED)
    batches: Iterator[list[int]]
    if generation_ids is not None or processes > 1:
        ids = (
            sorted(set(generation_ids))
            if generation_ids is not None
            else list(finished.order_by("pk").values_list("pk", flat=True))
        )
        total = len(ids)
        batches = (ids[i : i + batch_size] for i in range(0, len(ids), batch_size))
    else:
        total = finished.count()
        batches = _keyset_batches(finished, batch_size)
    if processes > 1 and connection.vendor == "postgresql":
        return _recompute_in_processes(batches, total, processes, on_progress)
    functions = reward_functions()
    profiles = list(RewardProfile.objects.filter(is_active=True))
    stats = RecomputeStats()
    done = 0
    for batch in batches:
        stats.add(_recompute_batch(batch, functions, profiles))
        done += len(batch)
        if on_progress is not None:
            on_progress(min(done, total), total)
    return stats


def _recompute_in_processes(
    batches: Iterator[list[int]],
    total: int,
    processes: int,
    on_progress: Callable[[int, int], None] | None,
) -> RecomputeStats:
    import multiprocessing

    from workbench.processes import django_child

    # Spawned, not forked: a forked child would share this process's database connections (and
    # pool threads). Each child sets Django up on this process's database before any task.
    context = multiprocessing.get_context("spawn")
    stats = RecomputeStats()
    done = 0
    database = connection.settings_dict["NAME"]
    with context.Pool(processes, initializer=django_child, initargs=(database,)) as pool:
        for size, result in pool.imap_unordered(_recompute_batch_in_child, batches):
            stats.add(result)
            done += size
            if on_progress is not None:
                on_progress(min(done, total), total)
    return stats


def _recompute_batch_in_child(ids: list[int]) -> tuple[int, RecomputeStats]:
    profiles = list(RewardProfile.objects.filter(is_active=True))
    return len(ids), _recompute_batch(ids, reward_functions(), profiles)


def rewards_schedule_for_review(review: Review) -> None:
    """After this transaction commits, recompute what the review can change.

    A submitted review changes the rewards of its whole song: its flags and step grades change its
    own output's, its rankings its siblings', its verified metadata the ground truth of every
    output of the song.
    """
    song = Generation.objects.filter(pk=review.generation_id).values("song_id")
    rewards_schedule(
        list(
            Generation.objects.filter(
                song_id__in=song, status=Generation.Status.SUCCEEDED
            ).values_list("id", flat=True)
        )
    )


def rewards_schedule(generation_ids: Sequence[int]) -> None:
    """Queue a recompute of these generations on the CPU worker once the transaction commits."""
    ids = list(generation_ids)
    if ids:
        transaction.on_commit(partial(_enqueue, ids))


def _enqueue(generation_ids: list[int]) -> None:
    from workers.rewards import recompute_rewards

    recompute_rewards.delay(generation_ids)


def composites_recompute(
    *, profile: RewardProfile, generation_ids: Sequence[int] | None = None
) -> int:
    """Rewrite one profile's composites from the stored values (all generations by default).

    One statement over the reward table; generations that lost every component lose their row.
    """
    functions = reward_functions()
    with transaction.atomic():
        written = _write_composites([profile], functions, generation_ids)
        stale = CompositeReward.objects.filter(profile=profile)
        if generation_ids is not None:
            stale = stale.filter(generation_id__in=generation_ids)
        stale.exclude(
            generation_id__in=RewardValue.objects.filter(
                _current_rows(functions, set(profile.weights))
            ).values("generation_id")
        ).delete()
    return written


# --- One batch -------------------------------------------------------------------------------


def _keyset_batches(queryset: Any, batch_size: int) -> Iterator[list[int]]:
    last = 0
    while True:
        ids = list(
            queryset.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return
        yield ids
        last = ids[-1]


def _recompute_batch(
    ids: list[int], functions: list[RewardFunction], profiles: list[RewardProfile]
) -> RecomputeStats:
    with transaction.atomic():
        inputs = _load(ids)
        rows = _compute(inputs, functions)
        written = _upsert(rows)
        deleted = _delete_inapplicable(inputs.generation_ids, rows, functions)
        composites = _write_composites(profiles, functions, inputs.generation_ids)
        for profile in profiles:
            CompositeReward.objects.filter(
                profile=profile, generation_id__in=inputs.generation_ids
            ).exclude(
                generation_id__in={r.generation_id for r in rows if r.function in profile.weights}
            ).delete()
    return RecomputeStats(
        generations=len(inputs.generation_ids),
        written=written,
        unchanged=len(rows) - written,
        deleted=deleted,
        composites_written=composites,
    )


def _lock_songs(song_ids: list[int]) -> None:
    if connection.vendor != "postgresql" or not song_ids:
        return  # SQLite (the demo) has one writer at a time anyway
    with connection.cursor() as cursor:
        # Sorted, so two tasks on overlapping songs cannot deadlock.
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, s) FROM (SELECT unnest(%s::int[]) AS s ORDER BY 1) t",
            [_LOCK_CLASS, song_ids],
        )


@dataclass
class _Inputs:
    generations: list[dict[str, Any]]
    prompts: dict[int, dict[str, Any]]
    reviews_by_generation: dict[int, list[dict[str, Any]]]
    verified_by_song: dict[int, list[tuple[int, Mapping[str, Any]]]]
    reviews_by_song: dict[int, list[list[int]]]
    rankings_by_group: dict[int, list[dict[str, Any]]]
    members_by_group: dict[int, list[int]]

    @property
    def generation_ids(self) -> list[int]:
        return [g["id"] for g in self.generations]


def _load(ids: list[int]) -> _Inputs:
    from modeling.parsing import PARSER_VERSION

    generations: list[dict[str, Any]] = [
        dict(row)
        for row in Generation.objects.filter(pk__in=ids, status=Generation.Status.SUCCEEDED)
        .order_by("pk")
        .values(
            "id",
            "raw_text",
            "model_version_id",
            "song_id",
            "group_id",
            "prompt_id",
            "parsed__claims",
            "parsed__parser_version",
        )
    ]
    for generation in generations:
        # Claims parsed at generation time are reused when the parser has not changed since.
        if generation.pop("parsed__parser_version") != PARSER_VERSION:
            generation["parsed__claims"] = None
    song_ids = {g["song_id"] for g in generations}
    # Before reading any review: a newer recompute of these songs waits for this one to commit.
    _lock_songs(sorted(song_ids))
    own = set(ids)

    prompts: dict[int, dict[str, Any]] = {
        p["id"]: dict(p)
        for p in PromptTemplate.objects.filter(pk__in={g["prompt_id"] for g in generations}).values(
            "id", "answer_field", "answer_options"
        )
    }
    song_reviews = list(
        Review.objects.filter(generation__song_id__in=song_ids, status=Review.Status.SUBMITTED)
        .order_by("pk")
        .values(
            "id",
            "version",
            "generation_id",
            "generation__song_id",
            "generation__group_id",
            "step_grades",
            "verified_metadata",
            "sibling_ranks",
            "siblings_all_wrong",
        )
    )
    flags_by_review: dict[int, list[dict[str, Any]]] = defaultdict(list)
    own_review_ids = [r["id"] for r in song_reviews if r["generation_id"] in own]
    for flag in (
        Flag.objects.filter(review_id__in=own_review_ids)
        .order_by("pk")
        .values("id", "review_id", "severity", "target", "category__code", "quoted_text")
    ):
        flags_by_review[flag["review_id"]].append(
            {
                "id": flag["id"],
                "severity": flag["severity"],
                "target": flag["target"],
                "category": flag["category__code"],
                "quoted_text": flag["quoted_text"],
            }
        )

    reviews_by_generation: dict[int, list[dict[str, Any]]] = defaultdict(list)
    verified_by_song: dict[int, list[tuple[int, Mapping[str, Any]]]] = defaultdict(list)
    reviews_by_song: dict[int, list[list[int]]] = defaultdict(list)
    rankings_by_group: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for review in song_reviews:
        song_id, group_id = review["generation__song_id"], review["generation__group_id"]
        if review["generation_id"] in own:
            reviews_by_generation[review["generation_id"]].append(
                {
                    "id": review["id"],
                    "version": review["version"],
                    "step_grades": review["step_grades"] or {},
                    "flags": flags_by_review.get(review["id"], []),
                }
            )
        if review["verified_metadata"]:
            verified_by_song[song_id].append((review["id"], review["verified_metadata"]))
            reviews_by_song[song_id].append([review["id"], review["version"]])
        if group_id is not None and (review["sibling_ranks"] or review["siblings_all_wrong"]):
            rankings_by_group[group_id].append(
                {
                    "review": review["id"],
                    "version": review["version"],
                    "ranks": review["sibling_ranks"] or {},
                    "all_wrong": review["siblings_all_wrong"],
                }
            )
    members_by_group: dict[int, list[int]] = defaultdict(list)
    group_ids = {g["group_id"] for g in generations if g["group_id"] is not None}
    for member_id, group_id in (
        Generation.objects.filter(group_id__in=group_ids)
        .order_by("sibling_index", "pk")
        .values_list("id", "group_id")
    ):
        members_by_group[group_id].append(member_id)
    return _Inputs(
        generations,
        prompts,
        reviews_by_generation,
        verified_by_song,
        reviews_by_song,
        rankings_by_group,
        members_by_group,
    )


def _compute(inputs: _Inputs, functions: list[RewardFunction]) -> list[_Row]:
    from modeling.rewards.accuracy import gold_answer_text
    from modeling.rewards.ground_truth import ground_truth
    from modeling.rewards.preference import score_preference_group

    wanted = {f.name: f for f in functions}
    truth_by_song: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
    for song_id in {g["song_id"] for g in inputs.generations}:
        metadata, agreements = ground_truth(inputs.verified_by_song.get(song_id, []))
        truth_by_song[song_id] = (
            metadata,
            {name: _agreement_json(a) for name, a in agreements.items()},
        )
    preference_by_group: dict[int, dict[str, Any]] = {}
    if "preference" in wanted:
        for group_id, members in inputs.members_by_group.items():
            rankings = inputs.rankings_by_group.get(group_id, [])
            preference_by_group[group_id] = (
                score_preference_group(members, rankings) if rankings else {}
            )

    ranking_refs = {
        group_id: {"reviews": [[r["review"], r["version"]] for r in rankings]}
        for group_id, rankings in inputs.rankings_by_group.items()
    }
    rows: list[_Row] = []
    for generation in inputs.generations:
        gid, model_version_id = generation["id"], generation["model_version_id"]
        raw = generation["raw_text"]
        metadata, agreements = truth_by_song[generation["song_id"]]
        prompt = inputs.prompts.get(generation["prompt_id"]) or {}
        reviews = inputs.reviews_by_generation.get(gid, [])
        review_refs = [[r["id"], r["version"]] for r in reviews]
        metadata_provenance = {
            "reviews": inputs.reviews_by_song.get(generation["song_id"], []),
            "metadata": agreements,
        }

        scored: list[tuple[str, Any, dict[str, Any]]] = []
        if "format" in wanted:
            scored.append(("format", wanted["format"].score(raw), {}))
        answer_field = prompt.get("answer_field") or ""
        if answer_field:
            # A question row: format + accuracy against the experts' agreed answer.
            if "accuracy" in wanted and metadata.get(answer_field) not in (None, "", []):
                scored.append(
                    (
                        "accuracy",
                        wanted["accuracy"].score(
                            raw,
                            gold_answer_text(metadata[answer_field]),
                            prompt.get("answer_options") or None,
                        ),
                        {
                            "reviews": metadata_provenance["reviews"],
                            "metadata": {answer_field: agreements.get(answer_field)},
                        },
                    )
                )
        elif "structured_thinking" in wanted and metadata:
            scored.append(
                (
                    "structured_thinking",
                    wanted["structured_thinking"].score(
                        raw, metadata, generation["parsed__claims"]
                    ),
                    metadata_provenance,
                )
            )
        if reviews:
            if "hallucination_penalty" in wanted:
                scored.append(
                    (
                        "hallucination_penalty",
                        wanted["hallucination_penalty"].score(raw, reviews),
                        {"reviews": review_refs},
                    )
                )
            if "step_validity" in wanted:
                scored.append(
                    (
                        "step_validity",
                        wanted["step_validity"].score(raw, reviews),
                        {"reviews": review_refs},
                    )
                )
        group_id = generation["group_id"]
        if group_id is not None and "preference" in wanted:
            score = preference_by_group.get(group_id, {}).get(str(gid))
            scored.append(("preference", score, ranking_refs.get(group_id, {})))
        for function, score, provenance in scored:
            if function in wanted and score is not None and score.value is not None:
                rows.append(
                    _Row(
                        gid,
                        model_version_id,
                        function,
                        wanted[function].version,
                        float(score.value),
                        score.details,
                        provenance,
                    )
                )
    return rows


def _agreement_json(agreement: Any) -> dict[str, Any]:
    data = asdict(agreement)
    data.pop("field", None)
    return data


# --- Writing ---------------------------------------------------------------------------------

_UPSERT_SET = (
    "model_version_id = EXCLUDED.model_version_id, value = EXCLUDED.value, "
    "details = EXCLUDED.details, provenance = EXCLUDED.provenance, "
    "inputs_hash = EXCLUDED.inputs_hash, computed_at = EXCLUDED.computed_at"
)


def _rows_json(rows: list[_Row]) -> str:
    return (
        "["
        + ",".join(
            f'{{"g":{r.generation_id},"m":{r.model_version_id},"f":{json.dumps(r.function)},'
            f'"v":{r.function_version},"val":{json.dumps(r.value)},"d":{r.details_json},'
            f'"p":{r.provenance_json},"h":"{r.content_hash}"}}'
            for r in rows
        )
        + "]"
    )


def _upsert(rows: list[_Row]) -> int:
    """Insert new rows and rewrite changed ones; return how many were written."""
    if not rows:
        return 0
    table = RewardValue._meta.db_table
    conflict = (
        "ON CONFLICT (generation_id, function, function_version) DO UPDATE SET "
        f"{_UPSERT_SET} WHERE {table}.inputs_hash <> EXCLUDED.inputs_hash"
    )
    columns = (
        "generation_id, model_version_id, function, function_version, value, details, "
        "provenance, inputs_hash, computed_at"
    )
    now = timezone.now()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement per batch: the rows travel as one JSON array (built from the JSON
            # already serialised for the hash) and jsonb_to_recordset turns it into a set. Text
            # arrays of JSON cost more: psycopg quotes every element's quotes with a regex.
            cursor.execute(
                f"INSERT INTO {table} ({columns}) "  # noqa: S608 (table names from models; values are parameters)
                "SELECT g, m, f, v, val, d, p, h, %s FROM jsonb_to_recordset(%s::jsonb) "
                "AS t(g bigint, m bigint, f text, v int, val float8, d jsonb, p jsonb, h text) "
                f"{conflict}",
                [now, _rows_json(rows)],
            )
            return cursor.rowcount
        written = 0
        for row in rows:  # SQLite, the embedded demo: small by construction
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "  # noqa: S608 (table names from models; values are parameters)
                f"{conflict}",
                [
                    row.generation_id,
                    row.model_version_id,
                    row.function,
                    row.function_version,
                    row.value,
                    row.details_json,
                    row.provenance_json,
                    row.content_hash,
                    now,
                ],
            )
            written += cursor.rowcount
        return written


def _delete_inapplicable(
    generation_ids: list[int], rows: list[_Row], functions: list[RewardFunction]
) -> int:
    """Remove current-version rows of functions that no longer apply (e.g. a review was removed)."""
    kept: dict[str, set[int]] = defaultdict(set)
    for row in rows:
        kept[row.function].add(row.generation_id)
    stale = Q()
    for spec in functions:
        stale |= Q(function=spec.name, function_version=spec.version) & ~Q(
            generation_id__in=kept.get(spec.name, set())
        )
    return RewardValue.objects.filter(stale, generation_id__in=generation_ids).delete()[0]


def _current_rows(functions: list[RewardFunction], names: set[str]) -> Q:
    current = Q(pk__in=[])
    for spec in functions:
        if spec.name in names:
            current |= Q(function=spec.name, function_version=spec.version)
    return current


def _write_composites(
    profiles: list[RewardProfile],
    functions: list[RewardFunction],
    generation_ids: Sequence[int] | None,
) -> int:
    """Each profile's weighted sum of current values, as TRL sums rewards (missing ones skipped)."""
    versions = {spec.name: spec.version for spec in functions}
    weights = [
        (profile.pk, name, versions[name], float(weight))
        for profile in profiles
        for name, weight in sorted(profile.weights.items())
        if name in versions
    ]
    if not weights:
        return 0
    pg = connection.vendor == "postgresql"
    # A derived table rather than VALUES or WITH: SQLite names VALUES columns column1…, and its
    # driver reports no row count for a statement that starts with WITH.
    one = (
        "SELECT %s::bigint AS profile_id, %s::text AS function, %s::int AS function_version, "
        "%s::float8 AS weight"
        if pg
        else "SELECT %s AS profile_id, %s AS function, %s AS function_version, %s AS weight"
    )
    weights_sql = " UNION ALL ".join([one] * len(weights))
    params: list[Any] = [timezone.now()] + [item for w in weights for item in w]
    if generation_ids is None:
        where = "TRUE" if pg else "1"
    elif pg:
        where = "rv.generation_id = ANY(%s)"
        params.append(list(generation_ids))
    else:
        where = f"rv.generation_id IN ({', '.join(['%s'] * len(generation_ids))})"
        params.extend(generation_ids)
    table = CompositeReward._meta.db_table
    sql = (
        f"INSERT INTO {table} (generation_id, profile_id, model_version_id, value, computed_at) "  # noqa: S608 (table names from models; values are parameters)
        "SELECT rv.generation_id, w.profile_id, MIN(rv.model_version_id), "
        "SUM(rv.value * w.weight), %s "
        f"FROM {RewardValue._meta.db_table} rv JOIN ({weights_sql}) w "
        "ON rv.function = w.function AND rv.function_version = w.function_version "
        f"WHERE {where} GROUP BY rv.generation_id, w.profile_id "
        "ON CONFLICT (generation_id, profile_id) DO UPDATE SET value = EXCLUDED.value, "
        "model_version_id = EXCLUDED.model_version_id, computed_at = EXCLUDED.computed_at "
        f"WHERE abs({table}.value - EXCLUDED.value) > 1e-12"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)
