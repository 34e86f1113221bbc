"""The bundled intent pack says the right things, safely, and every reference in it resolves."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from hassil import Alternative, ListReference, Permutation, RuleReference, Sequence, recognize
from hassil.expression import Expression

from assistant.match import Matcher
from assistant.pack import CONTROL_INTENTS, Action, Pack, TriageInterview, load_pack

ROOT = Path(__file__).resolve().parent.parent
PACK_PATH = ROOT / "intents" / "en"
DATA = Path(__file__).resolve().parent / "data"

KNOWLEDGE_INTENTS = (
    "twitch_vs_spasm",
    "eye_twitch",
    "twitch_causes",
    "spasm_causes",
    "twitch_worry",
    "spasm_locations",
    "exercise_cramps",
    "prevent_cramps",
    "stop_twitching",
    "electrolytes",
    "caffeine",
    "sleep",
    "stress",
    "medication",
    "hydration",
    "nutrition",
    "related_conditions",
    "als_worry",
    "see_doctor",
    "doctor_visit",
    "nerve_control",
    "magnesium",
)
ACTION_INTENTS = ("cramp_now", "start_stretch")
EMERGENCY_INTENTS = (
    "emergency",
    "cardiac_arrest",
    "crisis",
    "faint",
    "heat_stroke",
    "anaphylaxis",
    "seizure",
    "head_injury",
    "clot",
    "rhabdo",
    "overdose",
    "bleeding",
)
REQUIRED_INTENTS = KNOWLEDGE_INTENTS + ACTION_INTENTS + EMERGENCY_INTENTS + CONTROL_INTENTS
MUSCLES = (
    "calf",
    "hamstring",
    "quadriceps",
    "foot",
    "hand",
    "forearm",
    "abdomen",
    "side",
    "chest",
    "neck",
    "lower_back",
)
BOTH_KINDS = ("calf", "hamstring", "quadriceps", "foot", "chest", "abdomen", "lower_back")
CHECKED_RELIEF = {
    "calf": "calf_check",
    "chest": "chest_check",
    "abdomen": "belly_check",
    "side": "side_check",
    "lower_back": "back_check",
}
"""Relief routines that first ask the red flags for their muscle (a clot, the heart, the belly, the spine)."""
DISPOSITION_URGENCY = {"self_care": 0, "book_visit": 1, "doctor_soon": 2, "emergency": 3}
NUMBERS = ("nine one one", "nine nine nine", "one one two")
"""The emergency numbers (US, UK, EU and most mobiles), spelled for the voice."""
MAX_WORDS = 45
EMERGENCY_MAX_WORDS = 60
"""Emergency advice names three numbers, spelled out (nine words), before or after what to do."""

# Characters a speech engine would read out or choke on.
MARKUP = re.compile(r"[*#\[\]•·►▪–—_`<>{}|~^\\]|\bhttps?:")
# Phrases that would tell the user what they have: the skill informs and triages, never diagnoses.
DIAGNOSING = (
    re.compile(r"(?<!\bif )(?<!\bwhether )(?<!\bdo )\byou have\b(?! to\b)", re.IGNORECASE),
    re.compile(r"\byou've got\b", re.IGNORECASE),
    re.compile(r"\byou(?:'re| are) suffering from\b", re.IGNORECASE),
    re.compile(r"\b(?:is|are|it's) definitely\b", re.IGNORECASE),
    re.compile(r"\byou (?:definitely|probably|must) have\b", re.IGNORECASE),
    re.compile(
        r"\b(?:this|that|it) is (?:als|a stroke|serotonin syndrome|kidney disease|a blood clot)\b", re.IGNORECASE
    ),
    re.compile(r"(?<!doctor can )\bdiagnos", re.IGNORECASE),
)


@pytest.fixture(scope="module")
def pack() -> Pack:
    return load_pack(PACK_PATH)


def _jsonl(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def _spoken(pack: Pack) -> Iterator[tuple[str, str]]:
    """Every text the skill speaks, with where it lives."""
    for iid, behaviour in pack.behaviours.items():
        if behaviour.answer:
            yield f"{iid}.say", behaviour.answer.say
            for index, part in enumerate(behaviour.answer.more):
                yield f"{iid}.more[{index}]", part
        if behaviour.follow_up:
            yield f"{iid}.follow_up.ask", behaviour.follow_up.ask
            for branch in (behaviour.follow_up.yes, behaviour.follow_up.no):
                if branch.say:
                    yield f"{iid}.follow_up", branch.say
    for did, disposition in pack.dispositions.items():
        yield f"disposition {did}", disposition.say
    for tid, interview in pack.triage.items():
        yield f"triage {tid}.intro", interview.intro
        for qid, question in interview.questions.items():
            yield f"triage {tid}.{qid}", question.ask
    for rid, routine in pack.routines.items():
        yield f"routine {rid}.intro", routine.intro
        yield f"routine {rid}.outro", routine.outro
        for index, step in enumerate(routine.steps):
            yield f"routine {rid}.step[{index}]", step.say
    yield "dialogue.help", pack.dialogue.help
    yield "dialogue.not_understood", pack.dialogue.not_understood


def _references(expression: Expression) -> Iterator[Expression]:
    yield expression
    if isinstance(expression, (Alternative, Sequence, Permutation)):
        for item in expression.items:
            yield from _references(item)


def test_bundled_pack_loads() -> None:
    pack = load_pack()
    assert set(REQUIRED_INTENTS) <= set(pack.intent_ids)


def test_required_intents_exist(pack: Pack) -> None:
    missing = set(REQUIRED_INTENTS) - set(pack.intent_ids)
    assert not missing, f"missing intents: {sorted(missing)}"


def test_knowledge_intents_answer_and_cite(pack: Pack) -> None:
    for iid in KNOWLEDGE_INTENTS:
        answer = pack.behaviours[iid].answer
        assert answer is not None, iid
        assert answer.sources, iid
        assert 1 <= len(answer.more) <= 3, iid


def test_every_cited_source_exists_and_is_described(pack: Pack) -> None:
    cited: list[tuple[str, tuple[str, ...]]] = []
    for iid, behaviour in pack.behaviours.items():
        if behaviour.answer:
            cited.append((iid, behaviour.answer.sources))
    cited += [(f"disposition {d.id}", d.sources) for d in pack.dispositions.values()]
    cited += [(f"triage {t.id}", t.sources) for t in pack.triage.values()]
    cited += [(f"routine {r.id}", r.sources) for r in pack.routines.values()]
    for where, sources in cited:
        assert sources, f"{where} names no source"
        unknown = set(sources) - set(pack.sources)
        assert not unknown, f"{where} cites unknown sources {sorted(unknown)}"
    assert "talesofastrokesurvivor.blog" in (pack.sources["seed"].url or "")
    for sid, source in pack.sources.items():
        assert (source.url or "").startswith("https://"), sid
        if sid != "seed":
            assert "not from the seed" in (source.note or "").lower(), f"{sid} must say it is not from the seed"


def test_answers_are_short_enough_to_speak(pack: Pack) -> None:
    for iid, behaviour in pack.behaviours.items():
        if behaviour.answer is None:
            continue
        limit = EMERGENCY_MAX_WORDS if behaviour.emergency else MAX_WORDS
        assert len(behaviour.answer.say.split()) <= limit, iid
        for part in behaviour.answer.more:
            assert len(part.split()) <= MAX_WORDS, f"{iid}: {part}"


def test_spoken_text_has_no_markup(pack: Pack) -> None:
    for where, text in _spoken(pack):
        assert not MARKUP.search(text), f"{where}: {text!r}"


def test_spoken_text_never_diagnoses(pack: Pack) -> None:
    for where, text in _spoken(pack):
        for pattern in DIAGNOSING:
            assert not pattern.search(text), f"{where} sounds like a diagnosis ({pattern.pattern}): {text!r}"


def test_diagnosis_check_catches_a_diagnosis() -> None:
    claims = ["You have ALS.", "This is definitely a cramp.", "I diagnose a strain.", "you've got kidney disease"]
    for claim in claims:
        assert any(p.search(claim) for p in DIAGNOSING), claim
    safe = ["See a doctor if you have numbness.", "Only a doctor can diagnose that.", "Do you have chest pain?"]
    for sentence in safe:
        assert not any(p.search(sentence) for p in DIAGNOSING), sentence


def test_emergency_tells_them_to_call_now(pack: Pack) -> None:
    behaviour = pack.behaviours["emergency"]
    assert behaviour.answer is not None
    assert "call emergency services now" in behaviour.answer.say.lower()
    assert sorted(iid for iid, b in pack.behaviours.items() if b.emergency) == sorted(EMERGENCY_INTENTS)
    for iid in EMERGENCY_INTENTS:
        answer = pack.behaviours[iid].answer
        assert answer is not None, iid
        for number in NUMBERS:
            assert number in answer.say.lower(), f"{iid} does not name {number}"


def test_a_collapse_hears_compressions_and_the_defibrillator_first(pack: Pack) -> None:
    answer = pack.behaviours["cardiac_arrest"].answer
    assert answer is not None
    first = answer.say.split(".")[0].lower()
    assert "chest compressions" in first and "defibrillator" in first, first


def test_a_crisis_hears_a_crisis_line(pack: Pack) -> None:
    answer = pack.behaviours["crisis"].answer
    assert answer is not None
    said = answer.say.lower()
    assert "nine eight eight" in said and "one one six, one two three" in said and "samaritans" in said


def test_eye_twitch_no_names_the_eyes_own_warning_signs(pack: Pack) -> None:
    follow_up = pack.behaviours["eye_twitch"].follow_up
    assert follow_up is not None and follow_up.no.say is not None
    said = follow_up.no.say.lower()
    for sign in ("two weeks", "closes fully", "spreads", "red or swollen", "droops"):
        assert sign in said, sign


def test_hydration_warns_against_forcing_down_water(pack: Pack) -> None:
    answer = pack.behaviours["hydration"].answer
    assert answer is not None and "don't force down" in answer.say.lower()
    assert "mayo_hyponatremia" in answer.sources


def test_magnesium_answer_gives_the_cochrane_finding(pack: Pack) -> None:
    answer = pack.behaviours["magnesium"].answer
    assert answer is not None and "cochrane" in answer.say.lower() and "cochrane_magnesium" in answer.sources


def test_urgent_dispositions_name_the_numbers(pack: Pack) -> None:
    for disposition in pack.dispositions.values():
        if disposition.urgency == 3:
            for number in NUMBERS:
                assert number in disposition.say.lower(), f"{disposition.id} does not name {number}"


def test_emergency_advice_is_the_emergency_answers_and_what_sends_for_help(pack: Pack) -> None:
    advice = pack.emergency_advice()
    for iid in EMERGENCY_INTENTS:
        answer = pack.behaviours[iid].answer
        assert answer is not None and answer.say in advice, iid
        assert set(answer.more) <= set(advice), iid  # "tell me more" is still about the emergency
    for disposition in pack.dispositions.values():
        assert (disposition.say in advice) == (disposition.urgency == 3), disposition.id
        assert pack.says_urgently(["Okay.", disposition.say]) == (disposition.urgency == 3), disposition.id
    calm = [b.answer for i, b in pack.behaviours.items() if b.answer and not pack.is_emergency(i)]
    assert not any(pack.says_urgently([answer.say, *answer.more]) for answer in calm)


def test_controls_are_controls_only(pack: Pack) -> None:
    for iid in CONTROL_INTENTS:
        behaviour = pack.behaviours[iid]
        assert behaviour.control == iid
        assert behaviour.answer is None and behaviour.routine is None and behaviour.follow_up is None


def test_no_template_block_requires_context(pack: Pack) -> None:
    for intent in pack.intents.intents.values():
        for data in intent.data:
            assert not data.requires_context, intent.name


def test_muscle_list_has_exactly_the_canonical_muscles(pack: Pack) -> None:
    values = pack.intents.slot_lists["muscle"].values  # type: ignore[attr-defined]
    assert sorted({str(v.value_out) for v in values}) == sorted(MUSCLES)


@pytest.mark.parametrize(
    ("text", "intent", "slots"),
    [
        # Having cramp, said with no "why" or "how often", is one now (British English drops the "a").
        ("i've got cramp in my calf right now", "cramp_now", {"muscle": "calf"}),
        ("i have cramp in my foot", "cramp_now", {"muscle": "foot"}),
        ("i have cramps in my legs all the time", "spasm_causes", {}),
        ("i keep getting cramps in my calves", "spasm_causes", {}),
        # A chest stretch names the muscle; a tight chest is still an emergency.
        ("i'd like to do a chest stretch please", "start_stretch", {"muscle": "chest"}),
        ("stretch my chest", "start_stretch", {"muscle": "chest"}),
        ("my chest is tight", "emergency", {}),
    ],
)
def test_a_cramp_now_and_a_chest_stretch_are_told_apart(pack: Pack, text: str, intent: str, slots: dict) -> None:  # type: ignore[type-arg]
    match = Matcher(pack).match(text)
    assert (match.intent, match.slots) == (intent, slots), match


def test_action_intents_start_routines(pack: Pack) -> None:
    cramp = pack.behaviours["cramp_now"].routine
    stretch = pack.behaviours["start_stretch"].routine
    assert cramp is not None and cramp.kind == "relief" and cramp.default is None
    assert stretch is not None and stretch.kind == "stretch"


def test_every_muscle_has_a_routine(pack: Pack) -> None:
    for muscle in MUSCLES:
        assert pack.routine_for(muscle, "relief") is not None, muscle
    kinds = {(r.muscle, r.kind) for r in pack.routines.values()}
    for muscle in BOTH_KINDS:
        assert {(muscle, "relief"), (muscle, "stretch")} <= kinds, muscle
    assert {r.muscle for r in pack.routines.values()} <= set(MUSCLES)


def test_routines_are_gentle_and_well_formed(pack: Pack) -> None:
    for rid, routine in pack.routines.items():
        assert routine.intro.count(".") <= 1, f"{rid}: intro should be one sentence"
        assert "stop if" in routine.intro.lower() and "sharply" in routine.intro.lower(), f"{rid}: when to stop"
        assert "no bouncing" in routine.intro.lower(), f"{rid}: intro should say no bouncing"
        assert "water" in routine.outro.lower() and "doctor" in routine.outro.lower(), rid
        for step in routine.steps:
            assert 0 <= step.hold_seconds <= 60, rid
            assert 1 <= step.repetitions <= 3, rid
            assert set(step.sides) <= {"left", "right"}, rid
        balancing = [step.say for step in routine.steps if "balance" in step.say.lower()]
        for say in balancing:
            assert "lie" in say.lower(), f"{rid}: a balancing step needs a lying-down option: {say}"


def test_relief_for_belly_side_chest_calf_and_back_checks_red_flags_first(pack: Pack) -> None:
    for muscle, check in CHECKED_RELIEF.items():
        routine = pack.routine_for(muscle, "relief")
        assert routine is not None and routine.kind == "relief", muscle
        assert routine.check == check, muscle
        interview = pack.triage[check]
        assert len(interview.questions) <= 2, f"{check}: one or two red flags, not an interview"
        assert all(q.red_flag for q in interview.questions.values()), check


def _check_action(pack: Pack, action: Action, where: str) -> None:
    assert any((action.say, action.answer, action.triage, action.routine)), f"{where} does nothing"
    if action.answer:
        target = pack.behaviours.get(action.answer)
        assert target is not None and target.answer is not None, f"{where}: no answer '{action.answer}'"
    if action.triage:
        assert action.triage in pack.triage, f"{where}: no interview '{action.triage}'"
    if action.routine:
        assert action.routine in pack.routines, f"{where}: no routine '{action.routine}'"
    assert action.next is None and action.disposition is None, f"{where}: next/disposition only inside interviews"


def test_follow_ups_and_triage_references_resolve(pack: Pack) -> None:
    for iid, behaviour in pack.behaviours.items():
        if behaviour.follow_up:
            assert behaviour.follow_up.ask.endswith("?"), iid
            _check_action(pack, behaviour.follow_up.yes, f"{iid} follow_up yes")
            _check_action(pack, behaviour.follow_up.no, f"{iid} follow_up no")
        if behaviour.triage:
            assert behaviour.triage in pack.triage, iid
    for iid in ("twitch_worry", "als_worry", "related_conditions"):
        assert pack.behaviours[iid].triage == "twitch_check", iid
    assert pack.behaviours["see_doctor"].triage == "cramp_check"
    reaches_cramp_check = {
        iid
        for iid in ("spasm_causes", "exercise_cramps")
        if (f := pack.behaviours[iid].follow_up) and "cramp_check" in (f.yes.triage, f.no.triage)
    }
    assert reaches_cramp_check


def test_dispositions_are_the_four_levels(pack: Pack) -> None:
    urgencies = {d.id: d.urgency for d in pack.dispositions.values()}
    assert DISPOSITION_URGENCY.items() <= urgencies.items()
    assert set(urgencies.values()) == {0, 1, 2, 3}


def _walk(pack: Pack, interview: TriageInterview, qid: str, trail: tuple[str, ...], reached: set[str]) -> None:
    """Follow every answer from ``qid``, checking each path ends in a known disposition without looping."""
    where = f"{interview.id}.{qid}"
    assert qid in interview.questions, f"{interview.id}: no question '{qid}'"
    assert qid not in trail, f"{interview.id}: cycle through {trail + (qid,)}"
    reached.add(qid)
    question = interview.questions[qid]
    assert question.ask.endswith("?"), where
    for answer, action in (("yes", question.yes), ("no", question.no)):
        ends = [target for target in (action.next, action.disposition, action.routine) if target]
        assert len(ends) == 1, f"{where} {answer}: exactly one of next, disposition or routine"
        if action.disposition:
            assert action.disposition in pack.dispositions, f"{where} {answer}"
        elif action.routine:
            assert pack.routines[action.routine].check == interview.id, f"{where}: only a check starts a routine"
        else:
            _walk(pack, interview, str(action.next), trail + (qid,), reached)
    if question.red_flag:
        assert question.yes.disposition is not None, f"{where}: red flag yes must end the interview"
        assert pack.dispositions[question.yes.disposition].urgency >= 2, where


def test_every_triage_path_ends_in_a_disposition(pack: Pack) -> None:
    assert {"twitch_check", "cramp_check"} <= set(pack.triage)
    for tid, interview in pack.triage.items():
        checks = {routine.check for routine in pack.routines.values()}
        assert (1 if tid in checks else 3) <= len(interview.questions) <= (2 if tid in checks else 12), tid
        reached: set[str] = set()
        _walk(pack, interview, interview.start, (), reached)
        assert reached == set(interview.questions), f"{tid}: unreachable {set(interview.questions) - reached}"


def test_red_flags_come_first(pack: Pack) -> None:
    for tid, interview in pack.triage.items():
        qid, seen_plain = interview.start, False
        while qid:
            question = interview.questions[qid]
            assert not (question.red_flag and seen_plain), f"{tid}: red flag '{qid}' asked after a plain question"
            seen_plain = seen_plain or not question.red_flag
            qid = question.no.next or ""


def test_dialogue_settings_are_complete(pack: Pack) -> None:
    dialogue = pack.dialogue
    assert dialogue.wake_phrase == "hey coach"
    assert set(KNOWLEDGE_INTENTS + ACTION_INTENTS) <= set(dialogue.topic_names)
    for state, intents in dialogue.expects.items():
        assert set(intents) <= set(pack.intent_ids), state
    assert {"yes_no", "routine", "muscle"} <= set(dialogue.expects)
    placeholders = {
        "time_left": "{seconds}",
        "switch_sides": "{side}",
        "hold": "{seconds}",
        "seconds_left": "{seconds}",
    }
    for key in (
        "paused",
        "resumed",
        "stopped",
        "nothing_to_repeat",
        "no_more",
        "which_muscle",
        "release",
        "routine_done",
        "nothing_paused",
        "follow_up_declined",
        *placeholders,
    ):
        assert dialogue.phrases.get(key), key
    for key, placeholder in placeholders.items():
        assert placeholder in dialogue.phrases[key], key
    assert "{closest}" in dialogue.did_you_mean


def test_templates_reference_only_defined_rules_and_lists(pack: Pack) -> None:
    rules = set(pack.intents.expansion_rules)
    lists = set(pack.intents.slot_lists)
    expressions = [rule.expression for rule in pack.intents.expansion_rules.values()]
    for intent in pack.intents.intents.values():
        for data in intent.data:
            expressions += [sentence.expression for sentence in data.sentences]
    for expression in expressions:
        for node in _references(expression):
            if isinstance(node, RuleReference):
                assert node.rule_name in rules, f"unknown rule <{node.rule_name}>"
            if isinstance(node, ListReference):
                assert node.list_name in lists, f"unknown list {{{node.list_name}}}"


@pytest.mark.parametrize(
    ("text", "intent", "muscle"),
    [
        ("yes", "yes", None),
        ("nope", "no", None),
        ("how long left", "time_left", None),
        ("call an ambulance", "emergency", None),
        ("my calves are cramping", "cramp_now", "calf"),
        ("stretch the front of my thigh", "start_stretch", "quadriceps"),
        ("I've got a cramp", "cramp_now", None),
    ],
)
def test_templates_recognise_plain_requests(pack: Pack, text: str, intent: str, muscle: str | None) -> None:
    result = recognize(text, pack.intents)
    assert result is not None and result.intent.name == intent
    slot = result.entities.get("muscle")
    assert (slot.value if slot else None) == muscle


def test_phrasings_cover_every_intent(pack: Pack) -> None:
    phrasings = _jsonl("phrasings.jsonl")
    assert len({p["id"] for p in phrasings}) == len(phrasings)
    counts = Counter(p["intent"] for p in phrasings)
    for item in phrasings:
        assert item["intent"] in pack.intent_ids, item["id"]
        for name, value in item.get("slots", {}).items():
            assert name == "muscle" and value in MUSCLES, item["id"]
            assert item["intent"] in ACTION_INTENTS, item["id"]
    for iid in pack.intent_ids:
        assert counts[iid] >= 5, f"{iid} has {counts[iid]} phrasings"


def test_out_of_domain_set(pack: Pack) -> None:
    ood = _jsonl("ood.jsonl")
    assert len(ood) >= 40
    assert all(item["intent"] is None for item in ood)
    in_domain = {p["text"].lower() for p in _jsonl("phrasings.jsonl")}
    assert not in_domain & {item["text"].lower() for item in ood}
