"""What the pack says: every fixed reply text, so the voice can make it ahead and a benchmark can hear it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .pack import Pack


@dataclass(frozen=True)
class Reply:
    """One thing the assistant says."""

    kind: str
    """"answer", "follow-up", "triage", "routine", "dialogue" or "emergency"."""
    text: str
    """The words, as the pack holds them."""


def pack_replies(pack: Pack, placeholders: Mapping[str, str] | None = None) -> list[Reply]:
    """Every distinct reply text in the pack, each once, with its kind (emergency wins over the others).

    Answers (and their "more" parts), follow-up questions and what a yes or no says, triage questions
    and dispositions, routine intros, steps and outros, and the dialogue's fixed phrases; a phrase with a
    blank to fill ("{seconds} seconds left") only with ``placeholders`` for its blanks. Emergency advice
    is an emergency intent's answer or a disposition of urgency 3.
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
    settings = pack.dialogue
    for phrase in (settings.help, settings.not_understood, settings.did_you_mean, *settings.phrases.values()):
        try:
            add("dialogue", phrase.format_map(placeholders or {}))
        except (KeyError, IndexError, ValueError):
            continue  # its blanks are only known when it is said
    return [Reply(kind, text) for text, kind in found.items()]
