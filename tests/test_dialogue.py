"""The dialogue manager on a small pack of its own: answers, follow-ups, interviews, routines, controls."""

from collections.abc import Callable
from pathlib import Path

import pytest

from assistant.clock import FakeClock
from assistant.dialogue import DEFAULT_PHRASES, Dialogue
from assistant.errors import BadInput
from assistant.messages import Match, Turn
from assistant.pack import Pack, load_pack, pack_from_dict

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def pack() -> Pack:
    return load_pack(FIXTURES / "mini_pack.yaml")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


@pytest.fixture
def dialogue(pack: Pack, clock: FakeClock) -> Dialogue:
    return Dialogue(pack, clock)


def heard(intent: str | None, closest: str | None = None, **slots: str) -> Match:
    """A match as the matcher would hand it over."""
    text = intent or "mumble"
    return Match(text=text, normalized=text, intent=intent, slots=slots, confidence=1.0, closest=closest)


def say(dialogue: Dialogue, intent: str | None, **slots: str) -> Turn:
    return dialogue.handle(heard(intent, **slots))


def spoken(turns: list[Turn]) -> list[str]:
    return [line for turn in turns for line in turn.say]


# ----- answers and follow-ups


def test_answer_asks_its_follow_up_and_yes_gives_the_linked_answer(dialogue: Dialogue) -> None:
    turn = say(dialogue, "eye_twitch")
    assert turn.say == ("Eyelid twitches are common and usually harmless.", "Want some tips to settle it?")
    assert (turn.state, turn.expects, turn.intent, turn.sources) == ("follow_up", "yes_no", "eye_twitch", ("seed",))
    assert dialogue.context()["expects"] == "yes_no"

    turn = say(dialogue, "yes")
    assert turn.say == ("Sleep well, cut back on coffee and rest your eyes.",)
    assert (turn.state, turn.expects) == ("idle", None)
    assert "expects" not in dialogue.context()


def test_follow_up_no_says_the_packs_text(dialogue: Dialogue) -> None:
    say(dialogue, "eye_twitch")
    turn = say(dialogue, "no")
    assert turn.say == ("Okay. Ask me any time.",)
    assert turn.state == "idle"


def test_new_question_during_follow_up_answers_it_and_drops_the_follow_up(dialogue: Dialogue) -> None:
    say(dialogue, "eye_twitch")
    turn = say(dialogue, "cramp_cause")
    assert turn.say == ("Cramps often come from tired muscles.",)
    assert turn.state == "idle"
    assert say(dialogue, "yes").say[0] == DEFAULT_PHRASES["nothing_pending"]


def test_not_understood_during_follow_up_asks_again(dialogue: Dialogue) -> None:
    say(dialogue, "eye_twitch")
    turn = say(dialogue, None)
    assert turn.say == (DEFAULT_PHRASES["yes_or_no"], "Want some tips to settle it?")
    assert turn.state == "follow_up"


def test_yes_with_nothing_pending_is_answered_politely(dialogue: Dialogue, pack: Pack) -> None:
    turn = say(dialogue, "yes")
    assert turn.say == (DEFAULT_PHRASES["nothing_pending"], pack.dialogue.help)
    assert turn.state == "idle"


def test_bare_intent_is_reported_with_its_slots(dialogue: Dialogue) -> None:
    turn = say(dialogue, "thanks")
    assert (turn.intent, turn.say, turn.state) == ("thanks", (), "idle")


def test_not_understood_offers_the_closest_topic_and_yes_takes_it(dialogue: Dialogue) -> None:
    turn = dialogue.handle(heard(None, closest="eye_twitch"))
    assert turn.say == ("Sorry, I didn't get that.", "Did you mean eye twitching?")
    assert (turn.intent, turn.state) == (None, "follow_up")
    turn = say(dialogue, "yes")
    assert turn.intent == "eye_twitch"
    assert turn.say[0] == "Eyelid twitches are common and usually harmless."


def test_not_understood_without_a_named_closest_topic_just_says_so(dialogue: Dialogue) -> None:
    turn = dialogue.handle(heard(None, closest="cramp_cause"))
    assert turn.say == ("Sorry, I didn't get that.",)
    assert turn.state == "idle"


# ----- more, repeat, help, stop


def test_more_gives_each_part_then_says_there_is_no_more(dialogue: Dialogue) -> None:
    say(dialogue, "eye_twitch")
    say(dialogue, "no")
    assert say(dialogue, "more").say == ("Stress and caffeine make them worse.",)
    assert say(dialogue, "more").say == ("Most stop within a few weeks.",)
    assert say(dialogue, "more").say == (DEFAULT_PHRASES["no_more"],)


def test_more_during_a_follow_up_gives_the_part_and_asks_again(dialogue: Dialogue) -> None:
    say(dialogue, "eye_twitch")
    turn = say(dialogue, "more")
    assert turn.say == ("Stress and caffeine make them worse.", "Want some tips to settle it?")
    assert turn.state == "follow_up"
    assert say(dialogue, "repeat").say == turn.say


def test_more_with_nothing_said_has_no_more(dialogue: Dialogue) -> None:
    assert say(dialogue, "more").say == (DEFAULT_PHRASES["no_more"],)


def test_repeat_repeats_the_last_answer(dialogue: Dialogue) -> None:
    assert say(dialogue, "repeat").say == (DEFAULT_PHRASES["nothing_to_repeat"],)
    first = say(dialogue, "cramp_cause")
    say(dialogue, None)
    assert say(dialogue, "repeat").say == first.say


def test_repeat_in_a_follow_up_says_the_answer_and_question_again(dialogue: Dialogue) -> None:
    first = say(dialogue, "eye_twitch")
    turn = say(dialogue, "repeat")
    assert turn.say == first.say
    assert turn.state == "follow_up"


def test_help_says_what_the_skill_does_and_asks_again(dialogue: Dialogue, pack: Pack) -> None:
    assert say(dialogue, "help").say == (pack.dialogue.help,)
    say(dialogue, "twitch_worry")
    turn = say(dialogue, "help")
    assert turn.say == (pack.dialogue.help, "Is that muscle weaker than it used to be?")
    assert turn.state == "triage"
    say(dialogue, "cramp_now")
    turn = say(dialogue, "help")
    assert turn.say == (pack.dialogue.help, DEFAULT_PHRASES["which_muscle"])


def test_stop_uses_the_packs_phrase(dialogue: Dialogue) -> None:
    assert say(dialogue, "stop").say == ("Alright, stopped.",)


@pytest.mark.parametrize("control", ["repeat", "more", "help", "stop"])
@pytest.mark.parametrize("state", ["idle", "follow_up", "triage", "choose_muscle", "routine", "paused"])
def test_everyday_controls_work_in_every_state(dialogue: Dialogue, state: str, control: str) -> None:
    enter_state(dialogue, state)
    turn = say(dialogue, control)
    assert turn.say, f"{control} said nothing in {state}"
    if control == "stop":
        assert turn.state == "idle"
        assert dialogue.advance(600) == []
    else:
        assert turn.state == state


# ----- triage


@pytest.mark.parametrize(
    ("answers", "disposition", "advice"),
    [
        (["yes"], "doctor_soon", "See a doctor in the next day or two."),
        (["no", "yes"], "emergency", "Call emergency services now."),
        (["no", "no", "yes"], "book_visit", "Book a visit with your doctor."),
        (["no", "no", "no"], "self_care", "Rest, drink water and it should pass."),
    ],
)
def test_interview_ends_in_each_disposition(
    dialogue: Dialogue, answers: list[str], disposition: str, advice: str
) -> None:
    turn = say(dialogue, "twitch_worry")
    assert turn.say == (
        "Usually not, but let's check.",
        "A few quick yes or no questions.",
        "Is that muscle weaker than it used to be?",
    )
    assert (turn.state, turn.expects) == ("triage", "yes_no")
    for answer in answers[:-1]:
        turn = say(dialogue, answer)
        assert turn.state == "triage"
        assert turn.disposition is None
    turn = say(dialogue, answers[-1])
    assert turn.say[-1] == advice
    assert (turn.disposition, turn.state, turn.sources) == (disposition, "idle", ("seed",))


def test_interview_action_text_is_said_before_the_next_question(dialogue: Dialogue) -> None:
    say(dialogue, "twitch_worry")
    say(dialogue, "no")
    assert say(dialogue, "no").say == ("Good.", "Has it lasted more than two weeks?")


@pytest.mark.parametrize("intent", [None, "thanks", "pause", "next", "resume", "time_left"])
def test_interview_asks_again_on_anything_but_yes_or_no(dialogue: Dialogue, intent: str | None) -> None:
    say(dialogue, "twitch_worry")
    say(dialogue, "no")
    turn = say(dialogue, intent)
    assert turn.say[-1] == "Do you have trouble breathing or swallowing?"
    assert turn.state == "triage"
    assert say(dialogue, "yes").disposition == "emergency"


def test_repeat_in_an_interview_repeats_the_current_question(dialogue: Dialogue) -> None:
    say(dialogue, "twitch_worry")
    say(dialogue, "no")
    assert say(dialogue, "repeat").say == ("Do you have trouble breathing or swallowing?",)


def test_new_question_during_an_interview_answers_it_and_ends_the_interview(dialogue: Dialogue) -> None:
    say(dialogue, "twitch_worry")
    turn = say(dialogue, "cramp_cause")
    assert turn.say == ("Cramps often come from tired muscles.",)
    assert turn.state == "idle"


# ----- choosing a muscle


def test_cramp_without_a_muscle_asks_which_then_takes_a_bare_muscle(dialogue: Dialogue) -> None:
    turn = say(dialogue, "cramp_now")
    assert turn.say == (DEFAULT_PHRASES["which_muscle"],)
    assert (turn.state, turn.expects) == ("choose_muscle", "muscle")
    assert dialogue.context()["expects"] == "muscle"
    turn = say(dialogue, "cramp_now", muscle="calf")
    assert turn.say[:2] == ("Let's ease that calf.", "Straighten the leg and pull your toes toward your shin.")
    assert turn.state == "routine"


def test_stretch_without_a_muscle_asks_which_to_stretch(dialogue: Dialogue) -> None:
    assert say(dialogue, "start_stretch").say == (DEFAULT_PHRASES["which_stretch"],)
    assert say(dialogue, "cramp_now", muscle="calf").say[0] == "A calf stretch against the wall."


def test_context_tells_the_matcher_the_state(dialogue: Dialogue) -> None:
    assert dialogue.context() == {"state": "idle"}
    say(dialogue, "cramp_now", muscle="calf")
    assert dialogue.context() == {"state": "routine", "expects": "routine"}
    say(dialogue, "pause")
    assert dialogue.context() == {"state": "paused", "expects": "routine"}


def test_choosing_a_muscle_keeps_the_kind_asked_about(dialogue: Dialogue) -> None:
    say(dialogue, "cramp_now")
    assert say(dialogue, "start_stretch", muscle="calf").say[0] == "Let's ease that calf."


@pytest.mark.parametrize("intent", [None, "thanks", "cramp_now", "yes"])
def test_choosing_a_muscle_asks_again_on_anything_else(dialogue: Dialogue, intent: str | None) -> None:
    say(dialogue, "cramp_now")
    turn = say(dialogue, intent)
    assert turn.say[-1] == DEFAULT_PHRASES["which_muscle"]
    assert turn.state == "choose_muscle"


def test_choosing_a_muscle_can_be_declined(dialogue: Dialogue) -> None:
    say(dialogue, "cramp_now")
    turn = say(dialogue, "no")
    assert turn.state == "idle"
    assert turn.say == (DEFAULT_PHRASES["follow_up_declined"],)


def test_a_muscle_without_a_routine_is_said_so(dialogue: Dialogue) -> None:
    turn = say(dialogue, "cramp_now", muscle="thigh")
    assert turn.say == ("I don't have a routine for the thigh yet.",)
    assert turn.state == "idle"


def test_routine_default_muscle_and_kind_fallback(dialogue: Dialogue) -> None:
    assert say(dialogue, "quick_stretch").say[0] == "A calf stretch against the wall."
    # hamstring has no relief routine: the stretch stands in for it.
    assert say(dialogue, "cramp_now", muscle="hamstring").say[0] == "A seated hamstring stretch."


# ----- routines


def test_routine_runs_with_holds_countdown_rest_and_outro(dialogue: Dialogue, clock: FakeClock) -> None:
    start = clock.now()
    turn = say(dialogue, "cramp_now", muscle="calf")
    assert turn.say == (
        "Let's ease that calf.",
        "Straighten the leg and pull your toes toward your shin.",
        "Hold for 30 seconds.",
    )
    assert (turn.state, turn.expects, turn.sources) == ("routine", "routine", ("seed",))
    assert dialogue.next_event_in() == 20
    timed = []
    while (wait := dialogue.next_event_in()) is not None:
        clock.advance(wait)
        timed += [(clock.now() - start, turn.say) for turn in dialogue.poll()]
    assert timed == [
        (20, ("10 seconds left.",)),
        (30, ("And release.", "Relax for 5 seconds.")),
        (35, ("Walk around gently.",)),
        (45, ("The cramp should ease now.", DEFAULT_PHRASES["routine_done"])),
    ]
    assert dialogue.state == "idle"
    assert dialogue.next_event_in() is None


def test_poll_before_anything_is_due_says_nothing(dialogue: Dialogue, clock: FakeClock) -> None:
    say(dialogue, "cramp_now", muscle="calf")
    clock.advance(19.5)
    assert dialogue.poll() == []
    assert dialogue.next_event_in() == pytest.approx(0.5)


def test_sides_and_repetitions(dialogue: Dialogue) -> None:
    first = say(dialogue, "start_stretch", muscle="calf")
    assert first.say[1:] == (
        "Put your hands on the wall and step one foot back.",
        "Start with the left side.",
        "Hold for 20 seconds.",
    )
    lines = spoken(dialogue.advance())
    assert lines.count("Hold for 20 seconds.") == 3
    assert lines.count("Back into the stretch.") == 2
    assert lines.count("And release.") == 4
    assert lines.index("Now the right side.") > lines.index("Back into the stretch.")
    assert lines[-2:] == ["Nice work.", DEFAULT_PHRASES["routine_done"]]


def test_long_hold_gets_a_halfway_mark(dialogue: Dialogue, clock: FakeClock) -> None:
    say(dialogue, "start_stretch", muscle="hamstring")
    turns = dialogue.advance(30)
    assert spoken(turns) == [DEFAULT_PHRASES["halfway"]]


def test_late_poll_drops_stale_countdown(dialogue: Dialogue, clock: FakeClock) -> None:
    say(dialogue, "cramp_now", muscle="calf")
    clock.advance(31)
    assert spoken(dialogue.poll()) == ["And release.", "Relax for 5 seconds."]


def test_pause_freezes_the_hold_and_resume_carries_on_with_the_time_left(dialogue: Dialogue, clock: FakeClock) -> None:
    say(dialogue, "cramp_now", muscle="calf")
    clock.advance(12)
    turn = say(dialogue, "pause")
    assert turn.say == ("Paused. Say resume when you're ready.",)
    assert (turn.state, turn.expects) == ("paused", "routine")
    clock.advance(300)
    assert dialogue.poll() == []
    assert dialogue.next_event_in() is None
    assert say(dialogue, "time_left").say == ("18 seconds left.",)

    turn = say(dialogue, "resume")
    assert turn.say == (
        DEFAULT_PHRASES["resumed"],
        "Straighten the leg and pull your toes toward your shin.",
        "18 seconds left.",
    )
    assert turn.state == "routine"
    assert dialogue.next_event_in() == 8
    clock.advance(17)
    assert spoken(dialogue.poll()) == ["10 seconds left."]
    assert say(dialogue, "time_left").say == ("1 seconds left.",)
    clock.advance(1)
    assert spoken(dialogue.poll())[0] == "And release."


def test_a_hold_counts_from_the_end_of_its_instruction(dialogue: Dialogue, clock: FakeClock) -> None:
    say(dialogue, "cramp_now", muscle="calf")
    dialogue.talking(True)  # the instruction takes the voice 4 seconds to say
    clock.advance(4)
    assert dialogue.next_event_in() == 20
    dialogue.talking(False)
    clock.advance(19.5)
    assert dialogue.poll() == []
    clock.advance(0.5)
    assert spoken(dialogue.poll()) == ["10 seconds left."]
    dialogue.talking(True)  # so does the countdown, and the hold waits for it
    clock.advance(1)
    dialogue.talking(False)
    assert say(dialogue, "time_left").say == ("10 seconds left.",)


def test_talking_leaves_a_paused_routine_paused(dialogue: Dialogue, clock: FakeClock) -> None:
    say(dialogue, "cramp_now", muscle="calf")
    clock.advance(12)
    dialogue.talking(True)
    say(dialogue, "pause")
    clock.advance(3)
    dialogue.talking(False)
    clock.advance(60)
    assert dialogue.poll() == [] and dialogue.next_event_in() is None
    assert say(dialogue, "time_left").say == ("18 seconds left.",)


def test_time_left_during_a_rest(dialogue: Dialogue, clock: FakeClock) -> None:
    say(dialogue, "cramp_now", muscle="calf")
    clock.advance(32)
    dialogue.poll()
    assert say(dialogue, "time_left").say == ("Moving on in 3 seconds.",)


def test_resume_when_nothing_is_paused(dialogue: Dialogue) -> None:
    assert say(dialogue, "resume").say == (DEFAULT_PHRASES["nothing_paused"],)
    say(dialogue, "cramp_now", muscle="calf")
    assert say(dialogue, "resume").say == (DEFAULT_PHRASES["resumed"],)


def test_routine_controls_outside_a_routine_say_so(dialogue: Dialogue) -> None:
    for control in ("pause", "next", "time_left"):
        assert say(dialogue, control).say == (DEFAULT_PHRASES["not_in_routine"],)


def test_next_skips_to_the_next_side_then_to_the_end(dialogue: Dialogue, clock: FakeClock) -> None:
    say(dialogue, "start_stretch", muscle="calf")
    clock.advance(5)
    turn = say(dialogue, "next")
    assert turn.say == ("Now the right side.", "Hold for 20 seconds.")
    assert say(dialogue, "time_left").say == ("20 seconds left.",)
    assert spoken(dialogue.advance(10)) == ["10 seconds left."]
    turn = say(dialogue, "next")
    assert turn.say == ("And release.", "Nice work.", DEFAULT_PHRASES["routine_done"])
    assert turn.state == "idle"


def test_next_while_paused_moves_on_and_carries_on(dialogue: Dialogue) -> None:
    say(dialogue, "cramp_now", muscle="calf")
    say(dialogue, "pause")
    turn = say(dialogue, "next")
    assert turn.say == ("Walk around gently.",)
    assert turn.state == "routine"


def test_repeat_in_a_routine_says_the_current_step(dialogue: Dialogue, clock: FakeClock) -> None:
    say(dialogue, "cramp_now", muscle="calf")
    clock.advance(21)
    dialogue.poll()
    assert say(dialogue, "repeat").say == ("Straighten the leg and pull your toes toward your shin.", "9 seconds left.")
    assert dialogue.state == "routine"


def test_stop_ends_the_routine(dialogue: Dialogue, clock: FakeClock) -> None:
    say(dialogue, "cramp_now", muscle="calf")
    turn = say(dialogue, "stop")
    assert turn.state == "idle"
    clock.advance(600)
    assert dialogue.poll() == []
    assert dialogue.next_event_in() is None


def test_question_mid_routine_pauses_it_and_resume_carries_on(dialogue: Dialogue, clock: FakeClock) -> None:
    say(dialogue, "cramp_now", muscle="calf")
    clock.advance(5)
    turn = say(dialogue, "cramp_cause")
    assert turn.say == ("Cramps often come from tired muscles.", "Say resume to carry on with the calf cramp relief.")
    assert turn.state == "paused"
    clock.advance(100)
    assert dialogue.poll() == []
    assert say(dialogue, "repeat").say == turn.say
    assert say(dialogue, "resume").say[-1] == "25 seconds left."


def test_follow_up_mid_routine_keeps_the_routine_underneath(dialogue: Dialogue, clock: FakeClock) -> None:
    say(dialogue, "cramp_now", muscle="calf")
    clock.advance(5)
    assert say(dialogue, "eye_twitch").state == "follow_up"
    turn = say(dialogue, "no")
    assert turn.say == ("Okay. Ask me any time.", "Say resume to carry on with the calf cramp relief.")
    assert turn.state == "paused"
    assert say(dialogue, "resume").state == "routine"


def test_resume_during_a_follow_up_over_a_paused_routine_resumes(dialogue: Dialogue) -> None:
    say(dialogue, "cramp_now", muscle="calf")
    say(dialogue, "eye_twitch")
    turn = say(dialogue, "resume")
    assert turn.state == "routine"
    assert turn.say[0] == DEFAULT_PHRASES["resumed"]


def test_new_routine_replaces_the_running_one(dialogue: Dialogue) -> None:
    say(dialogue, "cramp_now", muscle="calf")
    turn = say(dialogue, "start_stretch", muscle="hamstring")
    assert turn.say[0] == "A seated hamstring stretch."
    assert "Nice work." not in spoken(dialogue.advance())


# ----- emergencies


def enter_state(dialogue: Dialogue, state: str) -> None:
    """Bring the dialogue into ``state`` the way a user would."""
    steps: dict[str, Callable[[], object]] = {
        "idle": lambda: None,
        "follow_up": lambda: say(dialogue, "eye_twitch"),
        "triage": lambda: say(dialogue, "twitch_worry"),
        "choose_muscle": lambda: say(dialogue, "cramp_now"),
        "routine": lambda: say(dialogue, "cramp_now", muscle="calf"),
        "paused": lambda: (say(dialogue, "cramp_now", muscle="calf"), say(dialogue, "pause")),
    }
    steps[state]()
    assert dialogue.state == state


@pytest.mark.parametrize("state", ["idle", "follow_up", "triage", "choose_muscle", "routine", "paused"])
def test_emergency_is_answered_at_once_in_every_state(dialogue: Dialogue, state: str) -> None:
    enter_state(dialogue, state)
    turn = say(dialogue, "chest_pain")
    assert turn.say == ("Stop exercising and call emergency services now.",)
    assert (turn.state, turn.intent) == ("idle", "chest_pain")
    assert dialogue.advance(600) == []
    assert say(dialogue, "yes").say[0] == DEFAULT_PHRASES["nothing_pending"]


# ----- the pack


def test_dangling_references_are_refused_at_start() -> None:
    broken = pack_from_dict(
        {
            "intents": {
                "worry": {
                    "data": [{"sentences": ["worry"]}],
                    "answer": {"say": "Hm."},
                    "follow_up": {"ask": "Check?", "yes": {"triage": "missing"}, "no": {"say": "Okay."}},
                }
            }
        }
    )
    with pytest.raises(BadInput, match="missing"):
        Dialogue(broken, FakeClock())


# ----- a routine guarded by a check


CHECKED = {
    "sources": {"seed": {"title": "the article"}},
    "dispositions": {"urgent": {"say": "See a doctor today.", "urgency": 2, "sources": ["seed"]}},
    "intents": {
        "cramp": {"data": [{"sentences": ["calf cramp"]}], "routine": {"kind": "relief", "default": "calf"}},
        "tip": {
            "data": [{"sentences": ["tip"]}],
            "answer": {"say": "Stretch it.", "sources": ["seed"]},
            "follow_up": {"ask": "Stretch now?", "yes": {"routine": "calf_relief"}, "no": {"say": "Okay."}},
        },
        "yes": {"data": [{"sentences": ["yes"]}], "control": "yes"},
        "no": {"data": [{"sentences": ["no"]}], "control": "no"},
    },
    "triage": {
        "calf_check": {
            "intro": "One check.",
            "sources": ["seed"],
            "questions": {
                "swollen": {
                    "ask": "Is it swollen?",
                    "red_flag": True,
                    "yes": {"disposition": "urgent"},
                    "no": {"routine": "calf_relief"},
                }
            },
        }
    },
    "routines": {
        "calf_relief": {
            "muscle": "calf",
            "kind": "relief",
            "title": "calf relief",
            "intro": "Ease it.",
            "steps": [{"say": "Pull your toes up.", "hold_seconds": 10}],
            "outro": "Done.",
            "sources": ["seed"],
            "check": "calf_check",
        }
    },
}


@pytest.mark.parametrize("opening", [["cramp"], ["tip", "yes"]])
def test_a_checked_routine_asks_its_check_first_and_starts_on_the_all_clear(opening: list[str]) -> None:
    dialogue = Dialogue(pack_from_dict(dict(CHECKED)), FakeClock())
    for intent in opening:
        turn = say(dialogue, intent)
    assert turn.state == "triage" and turn.say[-2:] == ("One check.", "Is it swollen?")
    turn = say(dialogue, "no")
    assert turn.state == "routine" and turn.say[:2] == ("Ease it.", "Pull your toes up.")


def test_a_red_flag_in_the_check_ends_without_the_routine() -> None:
    dialogue = Dialogue(pack_from_dict(dict(CHECKED)), FakeClock())
    say(dialogue, "cramp")
    turn = say(dialogue, "yes")
    assert (turn.state, turn.disposition, turn.say) == ("idle", "urgent", ("See a doctor today.",))
    assert dialogue.advance(60) == []
