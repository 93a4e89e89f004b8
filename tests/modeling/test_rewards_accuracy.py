"""The paper's accuracy reward: our normalisation, multiple choice, Unicode and the TRL signature."""

from __future__ import annotations

import pytest

from modeling.rewards.accuracy import accuracy_reward, normalise_answer, score_accuracy

INSTRUMENTS = ["sitar", "sarod", "veena", "santoor"]
LABELLED = ["A) sitar", "B) sarod", "C) veena", "D) santoor"]


def wrap(answer: str) -> str:
    return f"<think>The plucked lute has no frets and a metal fingerboard.</think><answer>{answer}</answer>"


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("120.0", "120"),
        ("120.50 BPM", "120.5 bpm"),
        ("  The   Sitar. ", "sitar"),
        ("**sarod**", "sarod"),
        ("_sarod_", "sarod"),
        ("`4/4`", "4/4"),
        ('"Bossa nova"', "bossa nova"),
        ("The answer is: an oud", "oud"),
        ("Answer: 6/8.", "6/8"),
        ("A minor", "a minor"),
        ("A-flat major", "a-flat major"),
        ("a flat major", "a flat major"),
        ("F♯ minor", "f# minor"),
        ("B♭ major", "bb major"),
        ("ＳＩＴＡＲ", "sitar"),  # full-width letters, NFKC
        ("１２０", "120"),
        ("Straße", "strasse"),  # casefold, not lower
        ("«Fado»", "fado"),
        ("演歌", "演歌"),
        ("Ελληνικά.", "ελληνικά"),
        ("🎸 guitar", "🎸 guitar"),
    ],
)
def test_normalisation(raw: str, normal: str) -> None:
    assert normalise_answer(raw) == normal


def test_a_plain_match_scores_one_with_its_reason() -> None:
    score = score_accuracy(wrap("The answer is **120.0**."), "120")
    assert score.value == 1.0
    assert score.details == {"predicted": "120", "gold": "120", "matched_by": "text"}


def test_a_wrong_answer_scores_zero() -> None:
    score = score_accuracy(wrap("sitar"), "sarod")
    assert (score.value, score.details["matched_by"]) == (0.0, None)


def test_it_is_none_without_a_gold_answer() -> None:
    assert score_accuracy(wrap("sitar"), None).value is None
    assert score_accuracy(wrap("sitar"), "  ").value is None


def test_only_the_answer_block_counts_not_the_reasoning() -> None:
    raw = "<think>It could be sarod.</think><answer>sitar</answer>"
    assert score_accuracy(raw, "sarod").value == 0.0


def test_without_tags_the_whole_text_is_the_answer() -> None:
    assert score_accuracy("Sarod.", "sarod").value == 1.0


def test_reasoning_without_an_answer_scores_zero() -> None:
    assert score_accuracy("<think>It is a sarod.</think>", "sarod").value == 0.0


def test_an_unclosed_answer_still_counts_as_the_answer() -> None:
    assert score_accuracy("<think>x</think><answer>sarod", "sarod").value == 1.0


def test_sharps_and_flats_in_unicode_equal_their_ascii_spelling() -> None:
    assert score_accuracy(wrap("F♯ minor"), "F# minor").value == 1.0
    assert score_accuracy(wrap("E♭ major"), "Eb major").value == 1.0


def test_a_minor_is_not_reduced_to_minor_by_article_removal() -> None:
    assert score_accuracy(wrap("C minor"), "A minor").value == 0.0
    assert score_accuracy(wrap("minor"), "A minor").value == 0.0


def test_full_width_and_non_latin_answers_match() -> None:
    assert score_accuracy(wrap("ＳＡＲＯＤ"), "sarod").value == 1.0
    assert score_accuracy(wrap("「演歌」"), "演歌").value == 1.0


@pytest.mark.parametrize(
    "prediction",
    [
        "B",
        "b",
        "(B)",
        "B)",
        "B.",
        "[B]",
        "Option B",
        "option b.",
        "B. sarod",
        "B) Sarod",
        "(B) sarod",
        "**B**",
        "sarod",
        "Sarod.",
    ],
)
def test_the_right_letter_or_option_text_counts(prediction: str) -> None:
    assert score_accuracy(wrap(prediction), "sarod", INSTRUMENTS).value == 1.0
    assert score_accuracy(wrap(prediction), "B", INSTRUMENTS).value == 1.0
    assert score_accuracy(wrap(prediction), "(B)", LABELLED).value == 1.0


@pytest.mark.parametrize("prediction", ["A", "(C)", "sitar", "Option D", "A. sitar"])
def test_another_option_scores_zero(prediction: str) -> None:
    assert score_accuracy(wrap(prediction), "B", INSTRUMENTS).value == 0.0


def test_a_letter_contradicted_by_its_text_scores_zero() -> None:
    score = score_accuracy(wrap("B. sitar"), "B", INSTRUMENTS)
    assert (score.value, score.details["matched_by"]) == (0.0, None)
    assert score_accuracy(wrap("A. sarod"), "sarod", INSTRUMENTS).value == 0.0


def test_how_it_matched_is_recorded() -> None:
    assert score_accuracy(wrap("(B)"), "sarod", INSTRUMENTS).details["matched_by"] == "letter"
    assert score_accuracy(wrap("Sarod"), "B", INSTRUMENTS).details["matched_by"] == "text"


def test_labelled_options_keep_their_own_letters() -> None:
    options = ["C) sitar", "D) sarod"]
    assert score_accuracy(wrap("D"), "sarod", options).value == 1.0
    assert score_accuracy(wrap("B"), "sarod", options).value == 0.0


def test_options_that_are_keys_keep_the_note_a() -> None:
    options = ["A minor", "C major", "E minor"]
    assert score_accuracy(wrap("A minor"), "A minor", options).value == 1.0
    assert score_accuracy(wrap("A"), "A minor", options).value == 1.0
    assert score_accuracy(wrap("C major"), "A minor", options).value == 0.0


def test_a_gold_text_outside_the_options_is_compared_as_text() -> None:
    assert score_accuracy(wrap("oud"), "oud", INSTRUMENTS).value == 1.0
    assert score_accuracy(wrap("A"), "oud", INSTRUMENTS).value == 0.0


def test_the_trl_wrapper_aligns_answers_and_options_with_completions() -> None:
    rewards = accuracy_reward(
        [wrap("B"), [{"role": "assistant", "content": wrap("120.0")}], "no idea"],
        answer=["sarod", "120", None],
        options=[INSTRUMENTS, None, None],
        prompts=["a", "b", "c"],
        completion_ids=[[1], [2], [3]],
        trainer_state=object(),
    )
    assert rewards == [1.0, 1.0, None]
    assert accuracy_reward.__name__ == "accuracy"


def test_the_trl_wrapper_without_an_answer_column_gives_none() -> None:
    assert accuracy_reward([wrap("B"), wrap("C")]) == [None, None]


def test_the_trl_wrapper_rejects_a_misaligned_column() -> None:
    with pytest.raises(ValueError, match="answer"):
        accuracy_reward([wrap("B")], answer=["B", "C"])
