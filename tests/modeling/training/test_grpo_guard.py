"""The GRPO subclass refuses a TRL it was not written against, instead of silently training
without the audio again."""

from __future__ import annotations

from typing import Any

import pytest

from modeling.training.grpo import (
    HOOKS,
    TRL_VERSION,
    TRLCompatibilityError,
    check_trl_compatibility,
)


def test_the_installed_trl_is_the_pinned_one_with_the_expected_hooks() -> None:
    import trl

    assert trl.__version__ == TRL_VERSION
    check_trl_compatibility()


def test_it_trips_on_another_trl_version() -> None:
    from trl import GRPOTrainer

    with pytest.raises(TRLCompatibilityError, match=r"written for TRL 1\.16\.0, found 1\.17\.0"):
        check_trl_compatibility(GRPOTrainer, "1.17.0")


def test_it_trips_when_an_overridden_hook_changes_its_parameters() -> None:
    from trl import GRPOTrainer

    class Upgraded(GRPOTrainer):
        def _tokenize_prompts(self, prompts: list, environments: Any = None) -> Any:
            return super()._tokenize_prompts(prompts)

    with pytest.raises(TRLCompatibilityError, match=r"_tokenize_prompts changed its parameters"):
        check_trl_compatibility(Upgraded, TRL_VERSION)


def test_it_trips_when_an_overridden_hook_is_gone() -> None:
    from trl import GRPOTrainer

    class Renamed(GRPOTrainer):
        pass

    Renamed._get_per_token_logps_and_entropies = None  # type: ignore[assignment]
    with pytest.raises(TRLCompatibilityError, match=r"_get_per_token_logps_and_entropies is gone"):
        check_trl_compatibility(Renamed, TRL_VERSION)


def test_every_hook_the_trainer_overrides_is_guarded() -> None:
    from trl import GRPOTrainer

    from modeling.training.grpo import AudioGRPOTrainer

    overridden = {
        name
        for name, value in vars(AudioGRPOTrainer).items()
        if callable(value) and hasattr(GRPOTrainer, name) and name != "__init__"
    }
    assert overridden == set(HOOKS)


def test_building_the_trainer_fails_loudly_on_an_upgraded_trl(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import trl

    from modeling.training.grpo import AudioGRPOTrainer

    monkeypatch.setattr(trl, "__version__", "2.0.0")
    with pytest.raises(TRLCompatibilityError, match=r"found 2\.0\.0"):
        AudioGRPOTrainer(model=None, args=None, audio_loader=lambda row: None)
