from __future__ import annotations

import doctest

import modeling.output_format
from modeling.output_format import split_output


def test_the_docstring_examples_hold() -> None:
    result = doctest.testmod(modeling.output_format)
    assert result.attempted >= 2
    assert result.failed == 0


def test_surrounding_whitespace_does_not_break_form() -> None:
    out = split_output("\n <think> a </think>\n\n<answer> b </answer> \n")
    assert (out.think, out.answer, out.well_formed) == ("a", "b", True)


def test_answer_before_think_is_not_well_formed() -> None:
    out = split_output("<answer>b</answer><think>a</think>")
    assert (out.think, out.answer, out.well_formed) == ("a", "b", False)


def test_an_unclosed_think_runs_to_the_end() -> None:
    out = split_output("<think>step 1. step 2.")
    assert (out.think, out.answer, out.well_formed) == ("step 1. step 2.", "", False)


def test_nested_tags_are_not_well_formed() -> None:
    out = split_output("<think>x<answer>y</answer></think><answer>z</answer>")
    assert out.well_formed is False
