"""The prompt library: the questions the workbench asks Music Flamingo out of the box.

Plain data. The web side stores each as version 1 of a ``PromptTemplate`` (admins edit them there,
and an edit becomes the next version); the benchmark reads them directly.
"""

from __future__ import annotations

from dataclasses import dataclass

# The paper's thinking-mode instruction, appended to the question when ``thinking`` is on.
THINKING_SUFFIX = (
    "Output the thinking process in <think> </think> and final answer in <answer> </answer>."
)


def full_text(text: str, *, thinking: bool) -> str:
    """What the model is asked: the question, with the thinking instruction when ``thinking``.
    Generation (library specs, stored templates) and dataset snapshots all ask through this.

    >>> full_text(" Tempo? ", thinking=False)
    'Tempo?'
    >>> full_text("Tempo?", thinking=True).startswith("Tempo? Output the thinking process")
    True
    """
    return f"{text.strip()} {THINKING_SUFFIX}" if thinking else text.strip()


@dataclass(frozen=True)
class PromptSpec:
    name: str
    text: str
    thinking: bool = False

    @property
    def full_text(self) -> str:
        return full_text(self.text, thinking=self.thinking)


LIBRARY: tuple[PromptSpec, ...] = (
    PromptSpec(
        "full-caption",
        "Describe this track in full detail - tell me the genre, tempo, and key, then dive into "
        "the instruments, production style, and overall mood it creates.",
    ),
    PromptSpec(
        "full-caption-think",
        "Describe this track in full detail in headed sections: Instrumentation & Production, "
        "Vocals, Lyrical Themes, Structure & Dynamics (with timestamps), Harmony & Theory "
        "(tempo in BPM, key and mode, metre), and Mood & Cultural Context.",
        thinking=True,
    ),
    PromptSpec(
        "question-tempo-metre",
        "What is the tempo of this track in beats per minute, and what is its time signature? "
        "Answer in one sentence.",
    ),
    PromptSpec(
        "question-tempo-metre-think",
        "What is the tempo of this track in beats per minute, and what is its time signature?",
        thinking=True,
    ),
    PromptSpec(
        "multiple-choice-lead-instrument",
        "Which instrument carries the main melody of this track? Choose one: (A) piano "
        "(B) guitar (C) synthesizer (D) voice (E) a bowed or plucked folk instrument. Answer "
        "with the letter, then the instrument.",
    ),
    PromptSpec(
        "metadata-extraction",
        "List this track's metadata, one 'field: value' per line: genre, sub-genre, tempo "
        "(BPM), key and mode, time signature, main instruments, vocals (present or not, "
        "voice type, language), mood, and the culture or region of the style.",
    ),
)
