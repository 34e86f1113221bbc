"""The bundled pack driven through the dialogue manager: every interview path, every routine, every muscle."""

from dataclasses import dataclass

import pytest

from assistant.clock import FakeClock
from assistant.dialogue import Dialogue
from assistant.messages import Match, Turn
from assistant.pack import StretchRoutine, TriageInterview, load_pack

PACK = load_pack()


def heard(intent: str, **slots: str) -> Match:
    return Match(text=intent, normalized=intent, intent=intent, slots=slots, confidence=1.0)


def spoken(turns: list[Turn]) -> list[str]:
    return [line for turn in turns for line in turn.say]


def start_interview(dialogue: Dialogue, interview: TriageInterview) -> Turn:
    """Start ``interview`` the way a user can: an intent that opens it, a follow-up leading to it, or
    asking for the routine it checks."""
    for routine in PACK.routines.values():
        if routine.check == interview.id:
            return start_routine(dialogue, routine)
    for behaviour in PACK.behaviours.values():
        if behaviour.triage == interview.id and not behaviour.follow_up:
            return dialogue.handle(heard(behaviour.id))
        if behaviour.follow_up:
            for answer, action in (("yes", behaviour.follow_up.yes), ("no", behaviour.follow_up.no)):
                if action.triage == interview.id:
                    dialogue.handle(heard(behaviour.id))
                    return dialogue.handle(heard(answer))
    raise AssertionError(f"no intent or follow-up starts interview '{interview.id}'")


@dataclass
class Path:
    """One way through an interview."""

    answers: list[str]
    asks: list[str]
    """Question asked before each answer."""
    disposition: str | None
    """Where it ended; None when a check's all-clear started its routine."""


def interview_paths(interview: TriageInterview) -> list[Path]:
    """Every path through ``interview``, each replayed through ``Dialogue.handle`` (depth first)."""
    paths: list[Path] = []
    pending: list[list[str]] = [[]]
    while pending:
        answers = pending.pop()
        dialogue = Dialogue(PACK, FakeClock())
        turn = start_interview(dialogue, interview)
        asks = [turn.say[-1]]
        for answer in answers:
            turn = dialogue.handle(heard(answer))
            if turn.state == "triage":
                asks.append(turn.say[-1])
        if turn.disposition is not None:
            assert turn.state == "idle"
            paths.append(Path(answers, asks, turn.disposition))
            continue
        if turn.state == "routine":
            checked = [r for r in PACK.routines.values() if r.check == interview.id]
            assert len(checked) == 1 and checked[0].intro in turn.say, f"{interview.id} {answers}: not its routine"
            paths.append(Path(answers, asks, None))
            continue
        assert turn.state == "triage", f"{interview.id} {answers}: left the interview without a disposition"
        assert len(set(asks)) == len(asks), f"{interview.id} {answers}: asks a question twice (a cycle)"
        pending += [answers + ["no"], answers + ["yes"]]
    return paths


def question_by_ask(interview: TriageInterview, ask: str) -> str:
    matches = [q.id for q in interview.questions.values() if q.ask == ask]
    assert len(matches) == 1, f"{interview.id}: '{ask}' is not exactly one question"
    return matches[0]


def test_bundled_pack_has_interviews_and_routines() -> None:
    assert PACK.triage
    assert PACK.routines
    assert any(b.emergency for b in PACK.behaviours.values())


@pytest.mark.parametrize("interview", PACK.triage.values(), ids=list(PACK.triage))
def test_every_interview_path_ends_in_a_disposition(interview: TriageInterview) -> None:
    paths = interview_paths(interview)
    assert paths
    asked = {question_by_ask(interview, ask) for path in paths for ask in path.asks}
    assert asked == set(interview.questions), f"questions never asked: {set(interview.questions) - asked}"


@pytest.mark.parametrize("interview", PACK.triage.values(), ids=list(PACK.triage))
def test_yes_to_a_red_flag_always_ends_urgent(interview: TriageInterview) -> None:
    for path in interview_paths(interview):
        urgency = PACK.dispositions[path.disposition].urgency if path.disposition else 0
        for ask, answer in zip(path.asks, path.answers, strict=True):
            question = interview.questions[question_by_ask(interview, ask)]
            if question.red_flag and answer == "yes":
                assert urgency >= 2, (
                    f"{interview.id} {path.answers}: yes to red flag '{question.id}' ends in urgency {urgency}"
                )


def start_routine(dialogue: Dialogue, routine: StretchRoutine) -> Turn:
    """Start ``routine`` the way a user can: asking for its kind for its muscle, or a follow-up leading to it."""
    for behaviour in PACK.behaviours.values():
        start = behaviour.routine
        if start and start.kind == routine.kind and PACK.routine_for(routine.muscle, routine.kind) == routine:
            return dialogue.handle(heard(behaviour.id, **{start.slot: routine.muscle}))
        if behaviour.follow_up:
            for answer, action in (("yes", behaviour.follow_up.yes), ("no", behaviour.follow_up.no)):
                if action.routine == routine.id:
                    dialogue.handle(heard(behaviour.id))
                    return dialogue.handle(heard(answer))
    raise AssertionError(f"nothing a user says starts routine '{routine.id}'")


@pytest.mark.parametrize("routine", PACK.routines.values(), ids=list(PACK.routines))
def test_every_routine_runs_to_the_end_saying_each_step(routine: StretchRoutine) -> None:
    clock = FakeClock()
    dialogue = Dialogue(PACK, clock)
    first = start_routine(dialogue, routine)
    if routine.check:
        check = PACK.triage[routine.check]
        assert first.state == "triage" and first.say[-1] == check.questions[check.start].ask, "the check comes first"
        while first.state == "triage":
            first = dialogue.handle(heard("no"))
    assert first.state == "routine"
    lines = [*first.say, *spoken(dialogue.advance())]
    assert dialogue.state == "idle"
    assert lines[lines.index(routine.intro) + 1] == routine.steps[0].say
    position = 0
    for step in routine.steps:
        assert step.say in lines[position:], f"step not said (in order): {step.say}"
        position = lines.index(step.say, position) + 1
    assert routine.outro in lines[position:]
    holds = sum(step.hold_seconds * step.repetitions * max(1, len(step.sides)) for step in routine.steps)
    assert clock.now() >= holds


MUSCLES = [value.value_out for value in PACK.intents.slot_lists["muscle"].values]  # type: ignore[attr-defined]


@pytest.mark.parametrize("muscle", MUSCLES)
def test_cramp_now_starts_a_routine_for_every_muscle(muscle: str) -> None:
    dialogue = Dialogue(PACK, FakeClock())
    turn = dialogue.handle(heard("cramp_now", muscle=muscle))
    routine = PACK.routine_for(muscle, "relief")
    assert routine is not None
    if routine.check:
        assert turn.state == "triage" and routine.intro not in turn.say
        turn = dialogue.handle(heard("no"))
    assert turn.state == "routine"
    assert turn.say[0] == routine.intro


def test_a_red_flag_in_a_check_stops_the_routine_from_starting() -> None:
    dialogue = Dialogue(PACK, FakeClock())
    dialogue.handle(heard("cramp_now", muscle="calf"))
    turn = dialogue.handle(heard("yes"))
    assert turn.disposition == "clot_urgent" and turn.state == "idle"
    assert dialogue.advance(600) == []


FOLLOW_UPS = [b.id for b in PACK.behaviours.values() if b.follow_up]


@pytest.mark.parametrize("answer", ["yes", "no"])
@pytest.mark.parametrize("intent", FOLLOW_UPS)
def test_every_follow_up_answer_says_something(intent: str, answer: str) -> None:
    dialogue = Dialogue(PACK, FakeClock())
    assert dialogue.handle(heard(intent)).state == "follow_up"
    assert dialogue.handle(heard(answer)).say


EMERGENCIES = [b.id for b in PACK.behaviours.values() if b.emergency]


@pytest.mark.parametrize("intent", EMERGENCIES)
def test_emergency_interrupts_a_routine_with_advice(intent: str) -> None:
    dialogue = Dialogue(PACK, FakeClock())
    dialogue.handle(heard("cramp_now", muscle="hamstring"))
    assert dialogue.state == "routine"
    turn = dialogue.handle(heard(intent))
    assert turn.say
    assert turn.state == "idle"
    assert dialogue.advance(600) == []


def test_did_you_mean_only_for_a_topic_that_comes_close() -> None:
    """Not understood: a near miss is offered its topic, a sentence from elsewhere only the pack's help."""
    from assistant.match import Matcher

    matcher = Matcher(PACK)
    dialogue = Dialogue(PACK, clock=FakeClock())
    far = dialogue.handle(matcher.match("what's the capital of france"))
    assert far.say == (PACK.dialogue.not_understood.format(closest=""),)
    assert far.state == "idle"
    near = dialogue.handle(matcher.match("hey does muscle feature mean als"))
    assert near.say[-1] == PACK.dialogue.did_you_mean.format(closest=PACK.dialogue.topic_names["als_worry"])
    assert dialogue.handle(heard("yes")).intent == "als_worry"
