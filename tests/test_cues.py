"""Topic cues: a sentence nothing else understood, that names a topic in words of its own, gets that topic."""

import pytest

from assistant.errors import BadInput
from assistant.match import Matcher
from assistant.messages import Transcript
from assistant.pack import load_pack, pack_from_dict

SEED = {"seed": {"title": "the article"}}

TINY = {
    "sources": SEED,
    "intents": {
        "coffee_twitch": {
            "data": [{"sentences": ["does coffee make me twitch"]}],
            "answer": {"say": "It can.", "sources": ["seed"]},
            "cues": ["(coffee|espresso) ... (twitch|twitches|twitching)"],
        },
        "sleep_twitch": {
            "data": [{"sentences": ["does bad sleep make muscles twitch at night"]}],
            "answer": {"say": "It can.", "sources": ["seed"]},
            "cues": ["(sleep|slept) ... (twitch|twitches|twitching)"],
        },
        "help_now": {
            "data": [{"sentences": ["help me now"]}],
            "emergency": True,
            "answer": {"say": "Call now.", "sources": ["seed"]},
            "red_flags": ["not breathing"],
        },
    },
}


@pytest.fixture(scope="module")
def tiny() -> Matcher:
    return Matcher(pack_from_dict(dict(TINY)))


def test_a_topic_named_in_other_words_is_that_topic(tiny: Matcher) -> None:
    found = tiny.match("any link between my espresso habit and these little twitches")
    assert found.intent == "coffee_twitch" and found.template.startswith("cue: ")
    assert found.confidence == tiny.threshold and found.slots == {}


def test_cues_wait_while_a_question_waits_for_its_answer(tiny: Matcher) -> None:
    text = "any link between my espresso habit and these little twitches"
    assert tiny.match(text, {"state": "follow_up", "expects": "yes_no"}).intent is None
    assert tiny.match(text, {"state": "idle"}).intent == "coffee_twitch"


def test_a_sentence_a_template_says_or_a_red_flag_comes_first(tiny: Matcher) -> None:
    assert tiny.match("does coffee make me twitch").template == "does coffee make me twitch"
    assert tiny.match("my espresso twitching friend is not breathing").intent == "help_now"
    assert tiny.match("coffee is nice").intent is None  # half a cue is none


def test_of_two_topics_said_the_closer_to_its_own_sentences_wins(tiny: Matcher) -> None:
    # Both cues are said; the words are far nearer the sleep topic's template.
    found = tiny.match("does bad sleep after espresso make muscles twitch at night or what")
    assert found.intent == "sleep_twitch", found


def test_cues_can_be_turned_off_and_a_heard_reading_gets_them_too() -> None:
    pack = pack_from_dict(dict(TINY))
    text = "any link between my espresso habit and these little twitches"
    assert Matcher(pack, cues=False).match(text).intent is None
    assert Matcher(pack).match_heard(text, Transcript(text=text)).intent == "coffee_twitch"


def test_bad_cues_are_refused() -> None:
    emergency_cues = {**TINY["intents"]["help_now"], "cues": ["not breathing"]}
    with pytest.raises(BadInput, match="an emergency's warning signs are its 'red_flags', not 'cues'"):
        pack_from_dict({**TINY, "intents": {**TINY["intents"], "help_now": emergency_cues}})
    with pytest.raises(BadInput, match="'cues' must be a list of phrases"):
        pack_from_dict({**TINY, "intents": {"x": {"data": [{"sentences": ["x"]}], "cues": "coffee"}}})
    with pytest.raises(BadInput, match="the red flag or cue '<coffee>' must be words"):
        Matcher(pack_from_dict({**TINY, "intents": {"x": {"data": [{"sentences": ["x"]}], "cues": ["<coffee>"]}}}))


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("is there any connection between red bull and my arm jumping twitches", "caffeine"),
        ("my eyelid has been fluttering for days now", "eye_twitch"),
        ("can a vitamin deficiency give you twitches", "nutrition"),
        ("what has the spinal cord got to do with making a muscle contract", "nerve_control"),
        # Twitches and cramps in other words (the pack's <twitching> and <cramping>), and a cause named
        # beside a general "why" going to the cause's own topic.
        ("there's a spot in my forearm that keeps jumping under the skin, what's behind it", "twitch_causes"),
        ("my bottom eyelid has a little pulse thing going on", "eye_twitch"),
        ("i only slept three hours and my thigh is flickering, is that why", "sleep"),
        ("drank nothing all morning and my calves are seizing, is that why", "hydration"),
        ("can being on statins make your legs lock up", "medication"),
        ("my quads always knot up around mile twenty", "exercise_cramps"),
        ("is that little flicker in my shoulder a twitch or a spasm", "twitch_vs_spasm"),
        ("i'm not sure these twitches aren't mnd", "als_worry"),
    ],
)
def test_the_bundled_pack_hears_its_topics_in_other_words(text: str, intent: str) -> None:
    assert BUNDLED.match(text).intent == intent, BUNDLED.match(text)


@pytest.mark.parametrize(
    "text",
    [
        "is black coffee ok before a morning run",
        "how many hours of sleep do teenagers need",
        "how much magnesium is in a banana",
        "my nerves before a race are awful",
        "why can't i jump higher",
        "i'm jumping rope today",
        "i can feel my pulse in my neck after sprints",
        "what's behind the gym",
    ],
)
def test_the_bundled_pack_leaves_other_talk_alone(text: str) -> None:
    assert BUNDLED.match(text).intent is None, BUNDLED.match(text)


BUNDLED = Matcher(load_pack())


def test_a_cue_may_name_an_expansion_rule_and_a_negation_does_not_take_it_back() -> None:
    twitching = {**TINY["intents"]["coffee_twitch"], "cues": ["(coffee|espresso) ... <twitching>"]}
    pack = pack_from_dict(
        {
            **TINY,
            "expansion_rules": {
                "twitching": "(twitch|twitches|twitching|<flickers>)",
                "flickers": "(flicker|flickers)",
            },
            "intents": {**TINY["intents"], "coffee_twitch": twitching},
        }
    )
    matcher = Matcher(pack)
    assert matcher.match("so much espresso lately and my thumb flickers").intent == "coffee_twitch"
    # "not" before a cue is how people ask, not a denial: the topic is the same.
    assert matcher.match("i am not sure if espresso gives me these flickers").intent == "coffee_twitch"


def test_general_cues_only_when_no_topic_names_its_own() -> None:
    causes = {
        "data": [{"sentences": ["what causes muscles to twitch"]}],
        "answer": {"say": "Many things.", "sources": ["seed"]},
        "general_cues": ["why ... (twitch|twitches|twitching)"],
    }
    matcher = Matcher(pack_from_dict({**TINY, "intents": {**TINY["intents"], "twitch_causes": causes}}))
    assert matcher.match("honestly why do i twitch this much").intent == "twitch_causes"
    # The sentence says a general cue and the sleep topic's own: the sleep topic wins.
    assert matcher.match("i slept four hours is that why i twitch").intent == "sleep_twitch"
    assert Matcher(pack_from_dict({**TINY, "intents": {"x": causes}}), cues=False).match("why twitch").intent is None


def test_a_cued_action_takes_the_slot_value_the_sentence_names() -> None:
    pack = pack_from_dict(
        {
            "sources": SEED,
            "lists": {
                "muscle": {"values": [{"in": "(calf|calves)", "out": "calf"}, {"in": "(foot|arch)", "out": "foot"}]}
            },
            "intents": {
                "cramp_now": {
                    "data": [{"sentences": ["cramp in my {muscle}"]}],
                    "answer": {"say": "Let's ease it.", "sources": ["seed"]},
                    "cues": ["cramping ... right now"],
                },
            },
        }
    )
    matcher = Matcher(pack)
    found = matcher.match("ugh the arch of my left side is cramping like mad right now")
    assert (found.intent, found.slots) == ("cramp_now", {"muscle": "foot"})
    # Two muscles named: the cue still means the action, with no muscle (a routine would ask which).
    found = matcher.match("both my calves and my arch are cramping right now")
    assert (found.intent, found.slots) == ("cramp_now", {})


@pytest.mark.parametrize(
    ("text", "intent", "slots"),
    [
        ("ouch my arch is cramping on this hill", "cramp_now", {"muscle": "foot"}),
        ("ouch the back of my thigh is seizing up", "cramp_now", {"muscle": "hamstring"}),
        ("i need some stretches, my lower back is so stiff from sitting", "start_stretch", {"muscle": "lower_back"}),
    ],
)
def test_the_bundled_actions_are_heard_in_other_words(text: str, intent: str, slots: dict[str, str]) -> None:
    found = BUNDLED.match(text)
    assert (found.intent, found.slots) == (intent, slots), found
