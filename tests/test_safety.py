"""Safety: every emergency and crisis phrasing, typed the way people say it, wins in every dialogue state of
the bundled pack, through the real matcher and dialogue and through `assistant chat --json`; everyday gym
talk stays calm; and every red flag of every interview ends where it should, whatever the question order."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from assistant.clock import FakeClock
from assistant.dialogue import Dialogue
from assistant.match import Matcher
from assistant.pack import Action, Pack, TriageInterview, TriageQuestion, load_pack

PACK = load_pack()
MATCHER = Matcher(PACK)
PHRASINGS = [json.loads(line) for line in (Path(__file__).parent / "data" / "phrasings.jsonl").read_text().splitlines()]
NUMBERS = ("nine one one", "nine nine nine", "one one two")
NUMBER_READINGS = [
    "call nine hundred eleven",
    "call nine eleven",
    "dial nine hundred and ninety nine",
    "call one hundred twelve",
]
"""Emergency numbers as a recogniser's open vocabulary writes them (flite and festival read 911 aloud as
"nine hundred eleven", and the general language model writes it so)."""

CLASSES: dict[str, tuple[str, list[str]]] = {
    "crisis": (
        "crisis",
        [
            "I want to kill myself",
            "I want to die",
            "I'm going to hurt myself",
            "i don't want to live anymore",
            "i've been having thoughts of suicide",
            "I'm feeling suicidal",
            "there's no point in living",
        ],
    ),
    "collapse, not breathing": (
        "cardiac_arrest",
        [
            "my friend collapsed and isn't breathing",
            "someone just collapsed on the treadmill",
            "he's not breathing",
            "she's unresponsive",
            "a guy went down and isn't responding",
        ],
    ),
    "collapse told by a bystander, where and how they are now": (
        "cardiac_arrest",
        [
            "she collapsed on the rowing machine and isn't breathing",
            "a guy went down at the squat rack and wasn't responding",
            "my spotter blacked out on the bench and won't wake up",
            "he collapsed in the sauna and he's not breathing",
            "a woman passed out in the changing room",
            "my partner fell off the bike and isn't responding",
            "he just went down",
            "my friend went down",
            "someone just dropped",
            "my spotter is unresponsive",
            "my brother's barely breathing",
        ],
    ),
    "swollen hot calf": (
        "clot",
        [
            "my calf is swollen and hot",
            "my calf is red and swollen",
            "could this be a blood clot",
            "I have a swollen calf",
        ],
    ),
    "can't feel my legs": ("emergency", ["I can't feel my legs", "my legs went numb", "I can't move my legs"]),
    "faint or dizzy": ("faint", ["I feel faint", "I'm dizzy", "I'm going to pass out", "I feel really lightheaded"]),
    "short of breath or wheezing": (
        "emergency",
        ["I'm short of breath", "I'm wheezing", "I can't get my breath back", "I'm having an asthma attack"],
    ),
    "left arm or jaw pain": ("emergency", ["my left arm hurts", "my jaw hurts", "I have a pain in my left arm"]),
    "chest tight with arm or jaw pain, face drooping with a weak arm, blood brought up": (
        "emergency",
        [
            "my chest is really tight and my left arm hurts",
            "my chest feels tight and my jaw hurts",
            "my face is drooping and my arm is weak",
            "I just threw up blood",
            "she's coughing up blood",
        ],
    ),
    "racing heart": (
        "faint",
        ["my heart is racing and won't slow down", "my heart won't slow down", "I'm having palpitations"],
    ),
    "dark urine after exercise": (
        "rhabdo",
        ["my pee is dark brown after my workout", "my urine is cola colored", "I'm peeing brown urine after leg day"],
    ),
    "heat stroke": (
        "heat_stroke",
        [
            "I think I have heat stroke",
            "he's really hot and confused",
            "she's stopped sweating and she's really hot",
            "I'm confused and really hot and I stopped sweating",
        ],
    ),
    "whole body cramping or rigid with fever": (
        "emergency",
        [
            "my whole body is cramping and I have a fever",
            "I'm cramping all over",
            "my muscles have gone rigid with a high fever",
        ],
    ),
    "someone choking": (
        "emergency",
        [
            "someone is choking",
            "somebody's choking",
            "someone's having a heart attack",
            "my friend is choking",
            "this guy is choking on something",
            "my gym buddy's choking",
        ],
    ),
    "fit or seizure": (
        "seizure",
        [
            "she's having a seizure",
            "he's having a fit",
            "someone is convulsing",
            "i think my training partner is having a fit in the pool",
            "someone's having a seizure on the treadmill",
        ],
    ),
    "throat closing or lips swelling": (
        "anaphylaxis",
        [
            "my throat is closing up",
            "my lips are swelling",
            "I'm having an allergic reaction",
            "I got stung by a bee and my face is swelling",
            "he ate peanuts and his throat is closing up",
            "I got stung and I can't breathe",
        ],
    ),
    "head injury": (
        "head_injury",
        [
            "I hit my head on the bar",
            "he got knocked out",
            "I think I have a concussion",
            "she hit her head and isn't waking up",
            "my friend dropped a weight on his head",
        ],
    ),
    "severe bleeding": (
        "bleeding",
        [
            "someone fell off the treadmill and is bleeding a lot",
            "I'm bleeding really badly",
            "he cut his hand open and it won't stop bleeding",
            "there's blood everywhere",
            "we can't stop the bleeding",
        ],
    ),
    "too dizzy to stand": (
        "faint",
        ["I'm so dizzy I can't stand up", "I'm so dizzy I can't walk", "she's too dizzy to stand"],
    ),
    "someone down and not moving": (
        "cardiac_arrest",
        [
            "there's a guy on the floor not moving",
            "there's a woman collapsed in the changing room",
            "there's someone down on the track",
        ],
    ),
    "sudden loss of sight": (
        "emergency",
        [
            "I suddenly can't see out of one eye",
            "my vision suddenly went black",
            "I've suddenly lost the sight in my eye",
        ],
    ),
    "overdose": ("overdose", ["I took too many pills", "he overdosed", "she's taken too many painkillers"]),
    "warning signs said inside a longer sentence (red flags)": (
        "cardiac_arrest",
        [
            "my training partner went down after his set and he is not breathing",
            "quick the guy on the rower is unresponsive",
            "I think we need to start cpr on him",
        ],
    ),
    "a fit said inside a longer sentence": (
        "seizure",
        [
            "oh no she's having a seizure by the pool right now",
            "my friend is convulsing on the mat what do I do",
            "his eyes rolled back and he's foaming at the mouth",
        ],
    ),
    "a swelling throat said inside a longer sentence": (
        "anaphylaxis",
        [
            "I think it's an allergic reaction my lips are swelling up fast",
            "where's his epipen he ate something",
            "after the peanut butter shake her tongue is swelling",
        ],
    ),
    "heavy bleeding said inside a longer sentence": (
        "bleeding",
        [
            "the plate caught his shin and he's bleeding heavily",
            "he dropped a kettlebell and there's blood everywhere",
            "she sliced her hand open on the machine",
        ],
    ),
    "a fit told by its signs": (
        "seizure",
        [
            "he's shaking all over and he won't answer me",
            "she went stiff and then started jerking",
            "he's bitten his tongue and he's twitching all over",
        ],
    ),
    "a clot told by its signs": (
        "clot",
        [
            "since my operation my calf has been swollen and now I'm breathless",
            "my ankle has blown up on one side after the long flight",
            "one calf is much fatter than the other and it's throbbing",
        ],
    ),
    "muscle breakdown told by its signs": (
        "rhabdo",
        [
            "my pee looks like cola after that workout",
            "my arms are massively swollen and I can't bend them",
            "I've hardly peed and my legs are rock hard and swollen",
        ],
    ),
    "heat stroke told by its signs": (
        "heat_stroke",
        [
            "she's been running in the heat and now she's staggering",
            "he's burning up and acting really strange",
            "it's so hot out and he's gone all floppy and delirious",
        ],
    ),
    "a crisis in other words": (
        "crisis",
        ["I want it all to be over", "I keep thinking about stepping in front of a train", "I'm done with living"],
    ),
    "breathing getting worse": (
        "emergency",
        [
            "I can't catch my breath and it's getting worse",
            "my inhaler is empty and I'm struggling for air",
            "his lips look blue",
        ],
    ),
    "a stroke told by its signs": (
        "emergency",
        [
            "her smile looks lopsided and she's talking gibberish",
            "my whole right side has gone numb",
            "he can't find his words",
        ],
    ),
    "came round after collapsing": (
        "faint",
        [
            "he collapsed but he's coming round now",
            "I woke up on the floor of the changing room",
            "everything went black for a second",
        ],
    ),
    "bleeding told by how much": (
        "bleeding",
        [
            "there's a pool of blood under his hand",
            "I pressed on it but it's still pouring",
            "it's gushing out everywhere",
        ],
    ),
    "a blow to the head and what followed": (
        "head_injury",
        [
            "he got kicked in the head and now he's drowsy",
            "a plate fell on his head and he's confused",
            "she knocked herself out on the bar",
        ],
    ),
    "stroke, chest pain, calls for help": (
        "emergency",
        [item["text"] for item in PHRASINGS if item["intent"] == "emergency"]
        + [
            "call nine hundred eleven",
            "call nine eleven",
            "dial nine hundred and ninety nine",
            "call one hundred twelve",
        ],
    ),
    # Signs told in everyday words, as the fifth blind set told them (none of these is one of its lines).
    "breathing and stroke signs in everyday words": (
        "emergency",
        [
            "she's clutching her throat and can't make a sound",
            "he can't finish a sentence without gasping",
            "it feels like i'm breathing through a straw",
            "his ribs are sucking in with every breath",
            "i have chest pressure and my arm tingles",
            "my right leg went weak and my face feels odd",
            "i suddenly can't see anything out of one eye",
            "he can't get his breath and it's getting worse",
        ],
    ),
    "not coming round, gasping": (
        "cardiac_arrest",
        [
            "he's not coming round and i can't see his chest moving",
            "she dropped on the court making gurgling gasps",
            "his chest isn't rising at all",
        ],
    ),
    "fitting for minutes, a person seizing": (
        "seizure",
        [
            "he's been convulsing for about three minutes",
            "my mate is seizing on the gym floor",
            "she went stiff and now she's thrashing",
        ],
    ),
    "a blow to the head, then signs": (
        "head_injury",
        [
            "he took a knee to the head and now he's throwing up",
            "she landed onto her head off the box",
            "he got hit on the head by a barbell and he's really confused",
            "blood is coming out of the ear after he fell",
        ],
    ),
    "too hot and not making sense": (
        "heat_stroke",
        [
            "he's boiling hot and doesn't know where he is",
            "her temperature is sky high after the race",
            "i'm not sweating anymore and my head is spinning",
        ],
    ),
    "swelling after something eaten": (
        "anaphylaxis",
        [
            "his lips have swollen up after the peanut bar",
            "she ate a nut cookie and now her voice is going hoarse",
            "he reacted to something, his face is swollen and he's wheezing",
        ],
    ),
    "breathless after being laid up": (
        "clot",
        [
            "i've been on crutches for a month and now i'm out of breath",
            "after a long car journey my calf is fat and hot",
            "my thigh is swollen and warm and the veins are bulging",
        ],
    ),
    "pills swallowed": (
        "overdose",
        [
            "she's swallowed a handful of sleeping pills",
            "i took all my painkillers at once",
            "he's taken loads of tablets",
        ],
    ),
}
"""Each class of emergency or crisis: the intent whose advice it must get, and ways people say it."""

CASES = [(name, intent, text) for name, (intent, texts) in CLASSES.items() for text in texts]


def say(dialogue: Dialogue, text: str) -> None:
    dialogue.handle(MATCHER.match(text, dialogue.context()))


SETUPS: dict[str, tuple[str, list[str]]] = {
    "idle": ("idle", []),
    "mid-answer follow-up": ("follow_up", ["why is my eye twitching"]),
    "mid-interview": ("triage", ["is twitching a sign of ALS", "no"]),
    "before a routine, in its check": ("triage", ["my calf is cramping"]),
    "choosing a muscle": ("choose_muscle", ["I have a cramp"]),
    "mid-routine": ("routine", ["my calf is cramping", "no"]),
    "routine paused": ("paused", ["my hamstring is cramping", "pause"]),
}
"""Dialogue states and the typed turns that reach them."""


def advice_for(intent: str) -> Callable[[str], None]:
    """What the advice for ``intent`` must hold: the emergency numbers, and a crisis line for a crisis."""

    def check(said: str) -> None:
        said = said.lower()
        for number in NUMBERS:
            assert number in said, (intent, said)
        if intent == "crisis":
            assert "nine eight eight" in said and "one one six, one two three" in said, said
        if intent == "cardiac_arrest":
            assert said.index("chest compressions") < said.index("nine one one"), "compressions come first"

    return check


def test_every_class_has_several_phrasings() -> None:
    for name, (intent, texts) in CLASSES.items():
        assert len(texts) >= 3, name
        assert PACK.is_emergency(intent), name


@pytest.mark.parametrize("state", list(SETUPS))
@pytest.mark.parametrize(("name", "intent", "text"), CASES, ids=[f"{c[0]}: {c[2]}" for c in CASES])
def test_emergency_and_crisis_phrases_win_in_every_state(state: str, name: str, intent: str, text: str) -> None:
    dialogue = Dialogue(PACK, FakeClock())
    expected_state, turns = SETUPS[state]
    for line in turns:
        say(dialogue, line)
    assert dialogue.state.value == expected_state
    match = MATCHER.match(text, dialogue.context())
    assert match.intent == intent, (text, match.intent, match.closest, match.confidence)
    turn = dialogue.handle(match)
    advice_for(intent)(" ".join(turn.say))
    assert dialogue.state.value == "idle"
    assert dialogue.poll() == []  # nothing carries on after the advice


@pytest.mark.parametrize("intent", [i for i in PACK.intent_ids if PACK.is_emergency(i)])
def test_emergency_advice_repeated_or_continued_is_still_said_as_emergency_advice(intent: str) -> None:
    """Louder and never cut off: the answer, "say that again" after it, and every "tell me more" part
    (what to do next in the emergency); a calm answer's parts are ordinary replies."""
    answer = PACK.behaviours[intent].answer
    assert answer is not None
    dialogue = Dialogue(PACK, FakeClock())
    turn = dialogue.handle(dataclasses.replace(MATCHER.match("hello"), intent=intent, slots={}))
    assert PACK.says_urgently(turn.say), intent
    assert PACK.says_urgently(dialogue.handle(MATCHER.match("say that again", dialogue.context())).say)
    for part in answer.more:
        turn = dialogue.handle(MATCHER.match("tell me more", dialogue.context()))
        assert part in turn.say and PACK.says_urgently(turn.say), (intent, turn.say)
    calm = Dialogue(PACK, FakeClock())
    assert not PACK.says_urgently(calm.handle(MATCHER.match("why is my eye twitching")).say)
    assert not PACK.says_urgently(calm.handle(MATCHER.match("tell me more", calm.context())).say)


LEAD_INS = ("help", "please help me", "oh no", "oh god", "somebody help")
"""What a frightened person says before the emergency itself."""


@pytest.mark.parametrize("lead_in", LEAD_INS)
def test_emergencies_are_heard_after_a_cry_for_help_or_a_hedge(lead_in: str) -> None:
    missed = []
    for _, intent, text in CASES:
        said = [f"{lead_in} {text.lower()}"]
        if text.lower().startswith(("i ", "i'm", "my ", "he", "she")):
            said.append(f"{lead_in} i think {text.lower()}")  # "help, I think I'm fainting"
        missed += [(line, intent) for line in said if MATCHER.match(line).intent != intent]
    assert not missed


@pytest.mark.parametrize("state", list(SETUPS))
def test_emergency_and_crisis_phrases_win_through_chat_json(state: str) -> None:
    _, setup = SETUPS[state]
    lines = [line for _, _, text in CASES for line in [*setup, text]]
    run = subprocess.run(
        [sys.executable, "-m", "assistant", "chat", "--json"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    replies = [json.loads(line) for line in run.stdout.splitlines()]
    by_phrase = [reply for reply in replies if reply.get("transcript") in {text for _, _, text in CASES}]
    assert len(by_phrase) == len(CASES)
    for (_, intent, text), reply in zip(CASES, by_phrase, strict=True):
        assert reply["transcript"] == text
        assert reply["intent"] == intent, (state, text, reply)
        advice_for(intent)(" ".join(reply["say"]))
        assert reply["state"] == "idle"


CALM = [
    line.strip()
    for line in (Path(__file__).parent / "data" / "calm_gym_talk.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]
"""Everyday gym talk that must not be taken for an emergency or a crisis."""


@pytest.mark.parametrize("state", ["idle", "mid-routine"])
@pytest.mark.parametrize("text", CALM)
def test_everyday_gym_talk_stays_calm(state: str, text: str) -> None:
    dialogue = Dialogue(PACK, FakeClock())
    for turn in SETUPS[state][1]:
        say(dialogue, turn)
    match = MATCHER.match(text, dialogue.context())
    assert not PACK.is_emergency(match.intent), (text, match.intent, match.confidence)
    said = " ".join(dialogue.handle(match).say).lower()
    assert "nine one one" not in said and "nine eight eight" not in said, (text, said)


# ----- interviews: each red flag answered yes, alone, ends where a clinician would send it

OPENERS = {
    "twitch_check": "is twitching a sign of ALS",
    "cramp_check": "when should I see a doctor about cramps",
    "calf_check": "my calf is cramping",
    "chest_check": "my chest muscle is cramping",
    "belly_check": "my stomach is cramping",
    "side_check": "I have a side stitch",
    "back_check": "my back is spasming",
}
"""What a user says to start each interview."""

EXPECTED: dict[str, dict[str, str]] = {
    "twitch_check": {
        "stroke_signs": "emergency",
        "breathing_swallowing": "emergency",
        "fever_confusion": "emergency",
        "medicine_reaction": "medicine_reaction",
        "weakness": "doctor_soon",
        "lasting": "book_visit",
        "several_places": "book_visit",
        "new_medicine": "book_visit",
    },
    "cramp_check": {
        "chest_breathing": "emergency",
        "heat": "heat_emergency",
        "whole_body": "emergency",
        "dark_urine": "rhabdo_now",
        "stroke_signs": "emergency",
        "swollen": "clot_urgent",
        "fluid_loss": "fluid_loss",
        "weakness_numbness": "doctor_soon",
        "long_cramp": "doctor_soon",
        "injury": "book_visit",
        "regular": "book_visit",
    },
    "calf_check": {"swollen": "clot_urgent"},
    "chest_check": {"heart_lungs": "emergency"},
    "belly_check": {"inside_pain": "tummy_pain"},
    "side_check": {"inside_pain": "tummy_pain"},
    "back_check": {"nerves": "back_emergency"},
}
"""Interview -> question -> where a yes to that question alone must end."""

ALL_NO = {
    "twitch_check": "self_care",
    "cramp_check": "self_care",
    "calf_check": "calf_relief",
    "chest_check": "chest_relief",
    "belly_check": "abdomen_relief",
    "side_check": "side_relief",
    "back_check": "lower_back_relief",
}
"""Where answering no to everything ends: self-care, or, for a check, the relief routine it guards."""


def walk(pack: Pack, interview: TriageInterview, yes_to: str | None) -> tuple[str | None, str, list[str]]:
    """Answer an interview typed, yes only to question ``yes_to``; return (disposition, state, questions asked)."""
    matcher = MATCHER if pack is PACK else Matcher(pack)
    dialogue = Dialogue(pack, FakeClock())
    turn = dialogue.handle(matcher.match(OPENERS[interview.id], dialogue.context()))
    asked: list[str] = []
    while turn.state == "triage":
        question = next(q for q in interview.questions.values() if q.ask == turn.say[-1])
        asked.append(question.id)
        answer = "yes" if question.id == yes_to else "no"
        turn = dialogue.handle(matcher.match(answer, dialogue.context()))
        if answer == "yes":
            assert turn.state != "triage", f"{interview.id}: yes to '{question.id}' did not end the interview"
    started = [routine.id for routine in pack.routines.values() if routine.intro in turn.say]
    return turn.disposition, started[0] if turn.state == "routine" and started else turn.state, asked


def reordered(pack: Pack, interview_id: str) -> Pack:
    """``pack`` with ``interview_id``'s chain of questions asked in reverse order (same outcomes per question)."""
    interview = pack.triage[interview_id]
    chain = [interview.start]
    while (following := interview.questions[chain[-1]].no.next) is not None:
        chain.append(following)
    last_no = interview.questions[chain[-1]].no
    order = chain[::-1]
    questions: dict[str, TriageQuestion] = {}
    for position, qid in enumerate(order):
        question = interview.questions[qid]
        no = Action(next=order[position + 1]) if position + 1 < len(order) else last_no
        questions[qid] = dataclasses.replace(question, no=no)
    triage = {**pack.triage, interview_id: dataclasses.replace(interview, start=order[0], questions=questions)}
    return dataclasses.replace(pack, triage=triage)


def test_every_interview_and_question_is_covered() -> None:
    assert set(EXPECTED) == set(PACK.triage) == set(OPENERS) == set(ALL_NO)
    for interview_id, expected in EXPECTED.items():
        assert set(expected) == set(PACK.triage[interview_id].questions), interview_id


@pytest.mark.parametrize("order", ["as written", "reversed"])
@pytest.mark.parametrize(
    ("interview_id", "question_id"),
    [(iid, qid) for iid, expected in EXPECTED.items() for qid in expected],
)
def test_a_yes_to_one_sign_alone_ends_where_it_should(interview_id: str, question_id: str, order: str) -> None:
    pack = PACK if order == "as written" else reordered(PACK, interview_id)
    interview = pack.triage[interview_id]
    disposition, state, asked = walk(pack, interview, question_id)
    assert asked[-1] == question_id
    assert disposition == EXPECTED[interview_id][question_id], (asked, disposition)
    assert state == "idle"
    if interview.questions[question_id].red_flag:
        assert pack.dispositions[disposition].urgency >= 2


@pytest.mark.parametrize("order", ["as written", "reversed"])
@pytest.mark.parametrize("interview_id", list(EXPECTED))
def test_no_to_everything_ends_in_self_care_or_the_routine(interview_id: str, order: str) -> None:
    pack = PACK if order == "as written" else reordered(PACK, interview_id)
    interview = pack.triage[interview_id]
    disposition, state, asked = walk(pack, interview, None)
    assert sorted(asked) == sorted(interview.questions)
    if ALL_NO[interview_id] in pack.routines:
        assert disposition is None and state == ALL_NO[interview_id]
    else:
        assert disposition == ALL_NO[interview_id] and state == "idle"


def test_the_most_dangerous_questions_come_first() -> None:
    for interview in PACK.triage.values():
        qid: str | None = interview.start
        urgencies = []
        while qid is not None:
            question = interview.questions[qid]
            urgencies.append(PACK.dispositions[question.yes.disposition or ""].urgency)
            qid = question.no.next
        assert urgencies == sorted(urgencies, reverse=True), (interview.id, urgencies)


def test_its_own_emergency_advice_heard_back_is_not_acted_on_but_the_users_warning_sign_is() -> None:
    """A reply from a loudspeaker comes back through the microphone; the echo guard may not place a
    misheard stretch of it, whose warning signs ("not breathing") would then start the advice again. A
    warning sign the assistant has just said is taken for its own voice; one it has not said is acted on."""
    import time

    from assistant.asr.choose import open_engine
    from assistant.messages import Transcript
    from assistant.session import Conversation, WakePhrase
    from assistant.tts import Speaker

    clock = FakeClock()
    speaker = Speaker(play=False, print_unheard=False, clock=clock)
    conversation = Conversation(
        MATCHER, Dialogue(PACK, clock), open_engine("pocketsphinx", PACK), speaker, WakePhrase("", "always")
    )
    advice = PACK.behaviours["seizure"].answer
    assert advice is not None
    for sentence in advice.more[0].split(". "):  # remembered sentence by sentence, as they are played
        speaker.echo_guard.remember(sentence)
    # How Whisper heard that part through a room (DECISIONS.md): too long and too misheard for the guard.
    heard_back = (
        "it's urgent if this is their first seizure it's urgent too if it lasts more than five minutes if "
        "another one follows or if they were hurt if they don't start reading normally afterwards start chest "
        "compressions"
    )
    assert not speaker.echo_guard.is_echo(heard_back)
    assert MATCHER.match(heard_back).intent == "seizure"  # "seizure" is a red flag
    exchange = conversation._act("mic", Transcript(heard_back), time.perf_counter())
    assert exchange.ignored == "echo" and exchange.turn is None
    users = conversation._act(
        "mic", Transcript("oh god my friend just went red and is unresponsive"), time.perf_counter()
    )
    assert users.turn is not None and users.match is not None and users.match.intent == "cardiac_arrest"
    clock.advance(60.0)  # long after the advice: the same words are the user's
    later = conversation._act("mic", Transcript(heard_back), time.perf_counter())
    assert later.match is not None and later.match.intent == "seizure" and later.turn is not None
