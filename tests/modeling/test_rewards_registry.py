"""The reward registry: stable names, versions, one-line definitions, runnable docstring examples."""

from __future__ import annotations

import doctest
import importlib
import inspect
import json

import pytest

from modeling.rewards import REWARDS, Score, completion_text, reward_function

MODULES = [
    "modeling.rewards",
    "modeling.rewards.format",
    "modeling.rewards.accuracy",
    "modeling.rewards.music",
    "modeling.rewards.structured_thinking",
    "modeling.rewards.hallucination",
    "modeling.rewards.steps",
    "modeling.rewards.preference",
    "modeling.rewards.ground_truth",
]


@pytest.mark.parametrize("module", MODULES)
def test_the_docstring_examples_hold(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted >= 2
    assert result.failed == 0


def test_the_registry_lists_the_rewards_in_their_stable_order() -> None:
    assert list(REWARDS) == [
        "format",
        "accuracy",
        "structured_thinking",
        "hallucination_penalty",
        "step_validity",
        "preference",
    ]
    assert [r.source for r in REWARDS.values()] == ["paper"] * 3 + ["workbench"] * 3
    assert all(name == reward.name for name, reward in REWARDS.items())


@pytest.mark.parametrize("name", list(REWARDS))
def test_each_reward_is_documented_versioned_and_named_for_trl(name: str) -> None:
    reward = REWARDS[name]
    assert reward.version >= 1
    assert reward.source in {"paper", "workbench"}
    assert reward.definition and "\n" not in reward.definition
    assert reward.trl.__name__ == name
    for function in (reward.score, reward.trl):
        docstring = inspect.getdoc(function) or ""
        assert ">>> " in docstring, f"{function.__qualname__} has no worked example"
        examples = doctest.DocTestFinder().find(function, globs=vars(inspect.getmodule(function)))
        assert doctest.DocTestRunner().run(examples[0]).failed == 0


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match="format, accuracy"):
        reward_function("fluency")


def test_scores_are_json_serialisable() -> None:
    raw = "<think>Step 1: 4/4.</think><answer>B</answer>"
    for score in (REWARDS["format"].score(raw), REWARDS["accuracy"].score(raw, "B", ["x", "y"])):
        assert isinstance(score, Score)
        json.dumps(score.details)


def test_completion_text_reads_every_shape_trl_passes() -> None:
    assert completion_text("plain") == "plain"
    assert completion_text([{"role": "assistant", "content": "conv"}]) == "conv"
    assert (
        completion_text(
            [
                {
                    "role": "assistant",
                    "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
                }
            ]
        )
        == "ab"
    )
    assert (
        completion_text([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}])
        == "a"
    )
    assert completion_text([{"role": "assistant", "content": None}]) == ""
    assert completion_text([]) == ""
