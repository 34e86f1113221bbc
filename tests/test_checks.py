"""`check-intents` finds what would strand or confuse a user; the dialogue refuses dangling references."""

from assistant.checks import check_pack, dangling_references
from assistant.pack import load_pack, pack_from_dict

BASE = {
    "sources": {"seed": {"title": "the article"}},
    "dispositions": {
        "calm": {"say": "Rest.", "urgency": 0, "sources": ["seed"]},
        "urgent": {"say": "Call now.", "urgency": 3, "sources": ["seed"]},
    },
}


def problems_of(extra: dict) -> list[str]:  # type: ignore[type-arg]
    return [problem.message for problem in check_pack(pack_from_dict({**BASE, **extra}))]


def test_bundled_pack_is_clean() -> None:
    assert check_pack(load_pack()) == []


def test_follow_up_that_leads_nowhere_and_missing_sources() -> None:
    found = problems_of(
        {
            "intents": {
                "ask": {
                    "data": [{"sentences": ["ask me"]}],
                    "answer": {"say": "Sure."},
                    "follow_up": {"ask": "More?", "yes": {"routine": "ghost"}, "no": {}},
                }
            }
        }
    )
    assert "intent 'ask' follow-up 'yes' leads to unknown routine 'ghost'" in found
    assert "intent 'ask' follow-up 'no' does nothing (needs say, answer, triage or routine)" in found
    assert "answer of 'ask' names no sources" in found


def test_interview_flaws() -> None:
    found = problems_of(
        {
            "intents": {"x": {"data": [{"sentences": ["x"]}]}},
            "triage": {
                "t": {
                    "intro": "Questions.",
                    "start": "a",
                    "sources": ["seed"],
                    "questions": {
                        "a": {
                            "ask": "Chest pain?",
                            "red_flag": True,
                            "yes": {"disposition": "calm"},
                            "no": {"next": "a"},
                        },
                        "b": {"ask": "Never asked?", "yes": {"disposition": "calm"}, "no": {}},
                    },
                }
            },
        }
    )
    assert "triage 't' loops back to 'a'" in found
    assert "red flag 'a' does not lead to an urgent disposition on yes" in found
    assert "triage 't' question 'b' can never be asked" in found
    assert "triage 't' question 'b' 'no' leads nowhere (needs 'next', 'disposition' or, in a check, 'routine')" in found


def test_sentence_claimed_by_two_intents() -> None:
    found = problems_of(
        {
            "intents": {
                "a": {"data": [{"sentences": ["hello there"]}]},
                "b": {"data": [{"sentences": ["hello [there]"]}]},
            }
        }
    )
    assert any("matches both 'a' and 'b'" in message for message in found)


def test_a_rival_that_must_leave_out_filler_does_not_claim_the_sentence() -> None:
    """The matcher takes the reading that keeps every word ("uh huh" is yes, "huh" alone asks to repeat),
    so the check does not report it; a rival that says every word as well still is."""
    pack = {
        "skip_words": ["uh"],
        "intents": {
            "yes": {"data": [{"sentences": ["(yes|uh huh)"]}]},
            "repeat": {"data": [{"sentences": ["(huh|what)"]}]},
        },
    }
    assert not any("matches both" in message for message in problems_of(pack))
    pack["intents"]["agree"] = {"data": [{"sentences": ["uh huh"]}]}  # type: ignore[index]
    found = problems_of(pack)
    assert any("'uh huh' matches both" in message and "'agree'" in message for message in found), found


def test_dangling_only_leaves_out_actions_that_merely_say_nothing() -> None:
    pack = pack_from_dict(
        {
            **BASE,
            "intents": {
                "ask": {
                    "data": [{"sentences": ["ask"]}],
                    "answer": {"say": "Hi.", "sources": ["seed"]},
                    "follow_up": {"ask": "More?", "yes": {"answer": "ask"}, "no": {}},
                }
            },
        }
    )
    assert dangling_references(pack) == []
    assert len(check_pack(pack)) == 1


ROUTINE = {
    "muscle": "calf",
    "title": "calf",
    "intro": "Go.",
    "steps": [{"say": "Hold.", "hold_seconds": 5}],
    "outro": "Done.",
}


def test_every_outcome_and_routine_must_cite_a_source() -> None:
    found = problems_of(
        {
            "intents": {"x": {"data": [{"sentences": ["x"]}]}},
            "dispositions": {"calm": {"say": "Rest.", "urgency": 0}, "urgent": {"say": "Call.", "urgency": 3}},
            "triage": {
                "t": {
                    "intro": "Questions.",
                    "questions": {
                        "a": {"ask": "Pain?", "yes": {"disposition": "urgent"}, "no": {"disposition": "calm"}}
                    },
                }
            },
            "routines": {"calf_relief": ROUTINE},
        }
    )
    assert "disposition 'calm' names no sources" in found
    assert "interview 't' names no sources" in found
    assert "routine 'calf_relief' names no sources" in found


def test_an_emergency_must_say_something() -> None:
    found = problems_of({"intents": {"help": {"data": [{"sentences": ["help"]}], "emergency": True}}})
    assert "emergency intent 'help' has no answer to give" in found


def test_a_routine_check_must_exist_and_lead_back_to_the_routine() -> None:
    found = problems_of(
        {
            "intents": {"x": {"data": [{"sentences": ["x"]}]}},
            "triage": {
                "calf_check": {
                    "intro": "One check.",
                    "sources": ["seed"],
                    "questions": {
                        "swollen": {
                            "ask": "Swollen?",
                            "red_flag": True,
                            "yes": {"disposition": "urgent"},
                            "no": {"disposition": "calm"},
                        }
                    },
                }
            },
            "routines": {
                "calf_relief": {**ROUTINE, "sources": ["seed"], "check": "calf_check"},
                "calf_stretch": {**ROUTINE, "kind": "stretch", "sources": ["seed"], "check": "ghost"},
            },
        }
    )
    assert "routine 'calf_relief': its check 'calf_check' never starts it" in found
    assert "routine 'calf_stretch' is checked by unknown interview 'ghost'" in found
