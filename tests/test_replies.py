"""The pack's fixed replies, as the voice makes them ahead: every kind once, emergency advice marked, blanks
only when filled."""

from __future__ import annotations

from assistant.pack import load_pack
from assistant.replies import pack_replies


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


def test_a_phrase_with_a_blank_is_listed_only_when_the_blank_is_filled() -> None:
    pack = load_pack()
    blank = pack.dialogue.phrases["time_left"]
    assert "{seconds}" in blank
    assert not any("seconds left" in reply.text for reply in pack_replies(pack))
    filled = pack_replies(pack, {"seconds": "30", "side": "left", "closest": "eye twitching", "muscle": "calf"})
    assert blank.format(seconds=30) in [reply.text for reply in filled]
