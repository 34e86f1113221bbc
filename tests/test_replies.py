"""The pack's fixed replies, as the voice makes them ahead: every kind once, emergency advice marked, and
every phrase a routine says with the numbers the pack gives it."""

from __future__ import annotations

from assistant.clock import FakeClock
from assistant.dialogue import Dialogue, State
from assistant.messages import Match
from assistant.pack import load_pack
from assistant.replies import pack_replies


def heard(intent: str, **slots: str) -> Match:
    """A match as the matcher would hand it over."""
    return Match(text=intent, normalized=intent, intent=intent, slots=slots, confidence=1.0)


def test_every_fixed_reply_is_listed_once_and_emergency_advice_is_marked() -> None:
    pack = load_pack()
    replies = pack_replies(pack)
    texts = [reply.text for reply in replies]
    assert len(texts) == len(set(texts))
    kinds = {reply.kind for reply in replies}
    assert kinds == {"answer", "follow-up", "triage", "routine", "dialogue", "emergency"}
    emergency = {reply.text for reply in replies if reply.kind == "emergency"}
    for behaviour in pack.behaviours.values():
        if behaviour.emergency and behaviour.answer is not None:
            assert behaviour.answer.say in emergency
    calf = next(routine for routine in pack.routines.values() if routine.muscle == "calf")
    assert all(step.say in texts for step in calf.steps)


def test_every_phrase_a_routine_says_with_its_numbers_is_listed() -> None:
    """Run every routine of the pack second by second, asking how long is left at each, pausing and
    asking something else once: each line said, numbers filled in, is one the voice makes ahead."""
    pack = load_pack()
    listed = {reply.text for reply in pack_replies(pack)}
    said: set[str] = set()
    for routine in pack.routines.values():
        clock = FakeClock()
        dialogue = Dialogue(pack, clock)
        start = "cramp_now" if routine.kind == "relief" else "start_stretch"
        said.update(dialogue.handle(heard(start, muscle=routine.muscle)).say)
        for _ in range(10):  # a check before the stretch: "no" to each red flag reaches the routine
            if dialogue.state is not State.TRIAGE:
                break
            said.update(dialogue.handle(heard("no")).say)
        assert dialogue.state is State.ROUTINE, routine.id
        second = 0
        while dialogue.state in (State.ROUTINE, State.PAUSED):
            said.update(dialogue.handle(heard("time_left")).say)
            if second == 3:
                said.update(dialogue.handle(heard("pause")).say)
                said.update(dialogue.handle(heard("eye_twitch")).say)
                said.update(dialogue.handle(heard("no")).say)
                said.update(dialogue.handle(heard("resume")).say)
            clock.advance(1)
            second += 1
            said.update(line for turn in dialogue.poll() for line in turn.say)
            assert second < 10_000, routine.id
    assert {"Hold for 30 seconds.", "10 seconds left.", "17 seconds left."} <= said
    assert said - listed == set()


def test_a_blank_only_the_user_fills_is_not_listed() -> None:
    pack = load_pack()
    texts = [reply.text for reply in pack_replies(pack)]
    assert not any("{" in text for text in texts)
    assert not any(text.startswith("I don't have a routine for") for text in texts)
