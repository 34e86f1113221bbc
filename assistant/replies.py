"""What the pack says: every fixed reply text, so the voice can make it ahead and a benchmark can hear it."""

from __future__ import annotations

from dataclasses import dataclass

from .dialogue import phrases_said
from .pack import Pack


@dataclass(frozen=True)
class Reply:
    """One thing the assistant says."""

    kind: str
    """"answer", "follow-up", "triage", "routine", "dialogue" or "emergency"."""
    text: str
    """The words, as the pack holds them."""


def pack_replies(pack: Pack) -> list[Reply]:
    """Every distinct reply text in the pack, each once, with its kind (emergency wins over the others).

    Answers (and their "more" parts), follow-up questions and what a yes or no says, triage questions
    and dispositions, routine intros, steps and outros, and every phrase of the dialogue's own with its
    blanks filled by each value the pack allows ("Hold for 30 seconds.", "10 seconds left.": see
    ``phrases_said``). Emergency advice is an emergency intent's answer or a disposition of urgency 3.
    """
    found: dict[str, str] = {}

    def add(kind: str, text: str | None) -> None:
        if text and text.strip() and (text not in found or kind == "emergency"):
            found[text] = kind

    for behaviour in pack.behaviours.values():
        kind = "emergency" if behaviour.emergency else "answer"
        if behaviour.answer is not None:
            for part in (behaviour.answer.say, *behaviour.answer.more):
                add(kind, part)
        if behaviour.follow_up is not None:
            add("follow-up", behaviour.follow_up.ask)
            add("follow-up", behaviour.follow_up.yes.say)
            add("follow-up", behaviour.follow_up.no.say)
    for interview in pack.triage.values():
        add("triage", interview.intro)
        for question in interview.questions.values():
            add("triage", question.ask)
            add("triage", question.yes.say)
            add("triage", question.no.say)
    for disposition in pack.dispositions.values():
        add("emergency" if disposition.urgency >= 3 else "triage", disposition.say)
    for routine in pack.routines.values():
        add("routine", routine.intro)
        for step in routine.steps:
            add("routine", step.say)
        add("routine", routine.outro)
    for phrase in phrases_said(pack):
        add("dialogue", phrase)
    return [Reply(kind, text) for text, kind in found.items()]
