"""The fuzzy matcher: intents and slots from messy text, fast, without expanding templates."""

import itertools
import re
from pathlib import Path
from typing import Any

import pytest
from hassil import RangeSlotList, TextSlotList, parse_sentence

from assistant import match as match_module
from assistant.errors import BadInput
from assistant.match import Matcher
from assistant.messages import Transcript
from assistant.normalize import normalize
from assistant.pack import load_pack, pack_from_dict

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_pack(FIXTURES / "match_pack.yaml"))


@pytest.mark.parametrize(
    ("text", "intent", "slots"),
    [
        ("why is my eyelid twitching", "eye_twitch", {}),
        ("Why's my eye twitching?", "eye_twitch", {}),
        ("um hey my calf is cramping", "cramp_now", {"muscle": "calf"}),
        ("ugh I got a cramp in my quads", "cramp_now", {"muscle": "quadriceps"}),
        ("the back of my thigh cramped up", "cramp_now", {"muscle": "hamstring"}),
        ("my calve is crampin", "cramp_now", {"muscle": "calf"}),  # misspelt, as an engine might
        ("i have a cramp", "cramp_now", {}),
        ("help I can't breathe", "emergency", {}),
        ("yeah", "yes", {}),
        ("set a timer for 25 minutes", "set_timer", {"minutes": "25"}),
        ("remember that my left knee clicks", "note", {"anything": "my left knee clicks"}),
    ],
)
def test_matches_intent_and_slots(matcher: Matcher, text: str, intent: str, slots: dict[str, str]) -> None:
    match = matcher.match(text)
    assert match.intent == intent
    assert match.slots == slots
    assert 0.0 <= match.confidence <= 1.0


@pytest.mark.parametrize("text", ["what's the weather like", "play some music", "how many reps should I do", ""])
def test_out_of_domain_is_not_understood_but_offers_closest(matcher: Matcher, text: str) -> None:
    match = matcher.match(text)
    assert match.intent is None
    assert match.slots == {}


def test_not_understood_still_names_the_closest_topic(matcher: Matcher) -> None:
    match = matcher.match("my eye does a weird flickering thing")
    assert match.intent is None
    assert match.closest == "eye_twitch"
    # Said at length, two words of nine are too little to name a topic by (CLOSEST_FLOOR).
    assert matcher.match("my eye does a weird flickering thing at night when reading").closest is None


ROUTINE = {"state": "routine", "expects": "routine"}


@pytest.fixture(scope="module")
def bundled() -> Matcher:
    return Matcher(load_pack())  # the bundled pack, with its emergency phrases


def heard(
    matcher: Matcher, text: str, *others: str, fallback: str = "", context: dict[str, str] | None = ROUTINE
) -> str | None:
    """The intent ``match_heard`` finds for ``text`` read with ``others`` as alternatives and ``fallback``."""
    return matcher.match_heard(text, Transcript(text, alternatives=others, fallback=fallback), context).intent


def test_an_emergency_in_another_reading_of_the_speech_wins(bundled: Matcher) -> None:
    assert heard(bundled, "hold menu want", "call an ambulance") == "emergency"
    assert heard(bundled, "pause", "i can't breathe") == "emergency"
    assert heard(bundled, "chest pain", "pause") == "emergency"
    assert heard(bundled, "no", "i can't breath", context=None) == "emergency"  # almost exactly an emergency
    assert heard(bundled, "why is my tight which it", "no fainting", context=None) == "faint"
    # ... but a loose likeness in a lesser reading does not overrule a sentence the pack says exactly.
    assert heard(bundled, "no thanks", "no fainting", context=None) == "no"
    # Otherwise the engine's own reading stands when it is understood ...
    assert heard(bundled, "pause", "next stretch") == "pause"
    assert heard(bundled, "hold menu want", "what time is it") is None
    # ... and gives way, when it is not, to another reading that matches almost exactly.
    assert heard(bundled, "why is my tight which it", "why is my eye twitching", context=None) == "eye_twitch"
    assert heard(bundled, "next stretch", "why is my eye twitching") == "next"


def test_an_emergency_said_exactly_in_another_reading_names_the_kind(bundled: Matcher) -> None:
    """A best reading that says a warning sign loosely (here Whisper saying the sentence twice) gives way to a
    reading that says the emergency exactly: "someone just fainted" is a collapse, not feeling faint."""
    looped = "someone just fainted someone just fainted"
    assert heard(bundled, looped) == "faint"  # a red flag: emergency advice all the same
    assert heard(bundled, looped, "someone just fainted") == "cardiac_arrest"
    assert heard(bundled, "someone just fainted", "i fainted") == "cardiac_arrest"  # an exact best reading stands
    assert heard(bundled, looped, "pause", "no thanks") == "faint"  # only an emergency said exactly takes over


def test_readings_are_taken_for_an_emergency_as_match_heard_takes_them(bundled: Matcher) -> None:
    """What a waiting state's short read is kept for: an emergency in any words and in any reading, never a reply."""
    routine, yes_no = {"expects": "routine"}, {"expects": "yes_no"}
    assert bundled.alarmed(("my mate just keeled over and isn't moving",), routine)  # no template's words
    assert bundled.alarmed(("no", "he's not breathing"), yes_no)
    assert not bundled.alarmed(("pause", "pause please"), routine)
    assert not bundled.alarmed(("no thanks", "no fainting"), yes_no)
    assert not bundled.alarmed((), routine)


def test_a_grammar_fallback_stands_in_but_never_as_an_emergency(bundled: Matcher) -> None:
    assert heard(bundled, "how do i prevent rabbits", fallback="next stretch") == "next"
    assert heard(bundled, "call an ambulance", fallback="pause") == "emergency"  # the reported reading comes first
    assert heard(bundled, "pause please", fallback="next stretch") == "pause"
    # a grammar's emergency is not trusted
    assert heard(bundled, "the old any case", fallback="call an ambulance") is None


def test_exact_sentence_scores_higher_than_garbled(matcher: Matcher) -> None:
    assert matcher.match("why is my eye twitching").confidence > matcher.match("why eye twitch thing going").confidence


def test_context_gates_blocks(matcher: Matcher) -> None:
    assert matcher.match("pause").intent is None
    assert matcher.match("pause", {"expects": "routine"}).intent == "pause"


def test_unknown_list_is_reported() -> None:
    pack = pack_from_dict({"language": "en", "intents": {"x": {"data": [{"sentences": ["stretch my {limb}"]}]}}})
    with pytest.raises(BadInput, match="unknown list"):
        Matcher(pack)


def test_million_expansion_pack_compiles_without_expanding() -> None:
    matcher = Matcher(load_pack(FIXTURES / "coffee_pack.yaml"))
    assert matcher.expansion_count() > 1_000_000
    match = matcher.match("can i get a double shot hot grande with vanilla syrup almond milk mocha please")
    assert match.intent == "order_coffee"
    assert match.slots == {
        "shots": "double shot",
        "temperature": "hot",
        "size": "grande",
        "sweetener": "vanilla syrup",
        "milk": "almond milk",
        "drink": "mocha",
    }


INLINE_RANGE_PACK = {
    "language": "en",
    "intents": {
        "set_timer": {"data": [{"sentences": ["[please] set [a] timer for {1..90:minutes} minutes"]}]},
        "set_rest": {"data": [{"sentences": ["rest for {5..120,5:seconds} seconds [please]"]}]},
        "reps": {"data": [{"sentences": ["count (my|the) reps [for me]", "how many reps (left|to go)"]}]},
    },
}


def test_giving_up_on_hopeless_templates_changes_no_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    packs = [load_pack(FIXTURES / "match_pack.yaml"), pack_from_dict(INLINE_RANGE_PACK)]
    texts = [
        "set a timer for twenty five minutes",
        "timer forty minutes please",
        "rest for thirty seconds",
        "rest ninety",
        "how many reps to go",
        "count reps for twenty minutes",
        "set the rest timer for sixty seconds",
        "um my calf is cramping for twenty minutes",
        "remember that my left knee clicks",
        "what's the weather like",
        "why is my eye twitching for five minutes",
    ]
    hopeless = match_module._hopeless
    gave_up = []

    def counting(*args: Any) -> bool:
        gave_up.append(hopeless(*args))
        return gave_up[-1]

    monkeypatch.setattr(match_module, "_hopeless", counting)
    pruned = [Matcher(pack).match(text) for pack in packs for text in texts]
    assert any(gave_up)
    monkeypatch.setattr(match_module, "_hopeless", lambda *args: False)
    assert [Matcher(pack).match(text) for pack in packs for text in texts] == pruned


def test_the_prefilter_credits_numbers_said_for_an_inline_range() -> None:
    matcher = Matcher(pack_from_dict(INLINE_RANGE_PACK))
    tokens = ["set", "a", "timer", "for", "twenty", "five", "minutes"]
    weights = [matcher._weight(t) for t in tokens]
    steps, word_best = matcher._similarities(tokens, weights)
    spans = match_module._SpanCache(matcher, tokens)
    with_range = matcher._coverage(tokens, weights, word_best, spans)
    timer = next(i for i, t in enumerate(matcher._templates) if t.intent == "set_timer")
    words_only = sum(float(word_best[t][timer]) * w for t, w in zip(tokens, weights, strict=True))
    assert with_range[timer] > words_only  # "twenty five" counts towards the timer template
    assert matcher.match("set a timer for twenty five minutes").slots == {"minutes": "25"}


AMOUNTS_PACK = {
    "language": "en",
    "skip_words": ["um", "please"],
    "lists": {
        "milk": {
            "values": [
                f"{amount}{kind}milk"
                for amount in ("", "a bit of ", "a little bit of ", "a lot of ", "lots of ")
                for kind in ("", "skim ")
            ]
        },
        "drink": {"values": ["mocha", "iced mocha", "coffee", "drip coffee"]},
        "size": {"values": ["small", "large", "twelve ounce"]},
        "roast": {"values": ["light roast", "dark roast"]},
        "shots": {"values": ["single shot", "double shot"]},
    },
    "intents": {
        "order": {
            "data": [
                {
                    "sentences": [
                        f"brew [a] {{{a}}} {{{b}}} {{{c}}} {{{d}}} with {{milk}}"
                        for a, b, c, d in itertools.permutations(["size", "roast", "shots", "drink"])
                    ]
                }
            ]
        }
    },
}
"""Values inside other values, and 24 templates that differ only in the order of their slots (as a Rhino grammar
writes them)."""


@pytest.fixture(scope="module")
def amounts() -> Matcher:
    return Matcher(pack_from_dict(AMOUNTS_PACK))


@pytest.mark.parametrize(
    ("said", "value"),
    [
        ("a lot of skim milk", "a lot of skim milk"),
        ("lots of skim milk", "lots of skim milk"),
        ("a little bit of milk", "a little bit of milk"),
        ("a bit of milk", "a bit of milk"),
        ("skim milk", "skim milk"),
        ("milk", "milk"),
    ],
)
def test_a_value_said_as_written_beats_its_neighbours_on_the_fuzzy_path(
    amounts: Matcher, said: str, value: str
) -> None:
    # "brwe" is misheard, so no template says the sentence exactly: the fuzzy path answers
    match = amounts.match(f"brwe a large dark roast double shot iced mocha with {said}")
    assert amounts.match_exact(match.text) is None
    assert match.slots["milk"] == value
    assert match.slots["drink"] == "iced mocha"


@pytest.mark.parametrize(
    "order",
    [("drink", "size", "roast", "shots"), ("shots", "roast", "drink", "size"), ("roast", "drink", "shots", "size")],
)
def test_every_slot_the_template_holds_is_filled_on_the_fuzzy_path(amounts: Matcher, order: tuple[str, ...]) -> None:
    said = {"size": "twelve ounce", "roast": "light roast", "shots": "single shot", "drink": "drip coffee"}
    text = "brew um a " + " ".join(said[name] for name in order) + " with a little bit of skim milk pleese"
    match = amounts.match(text)
    assert amounts.match_exact(text) is None
    assert match.slots == {**said, "milk": "a little bit of skim milk"}


def test_an_exact_match_is_as_confident_as_its_alignment(bundled: Matcher) -> None:
    """Both paths mean the same by confidence: hassil's reading costs what aligning its template costs."""
    texts = ["um why is my eye twitching", "hey hey my calf is cramping", "uh stretch my hamstrings now"]
    for text in texts:
        exact = bundled.match_exact(text)
        assert exact is not None and exact.intent is not None
        tokens = exact.normalized.split()
        weights = [bundled._weight(t) for t in tokens]
        steps, _ = bundled._similarities(tokens, weights)
        templates = [
            i for i, t in enumerate(bundled._templates) if t.text == exact.template and t.intent == exact.intent
        ]
        spans = match_module._SpanCache(bundled, tokens)
        aligned = [bundled._align(i, tokens, weights, steps, spans, sum(weights), 0.0) for i in templates]
        confidences = [1.0 - a[0] / max(sum(weights), a[1], 1.0) for a in aligned if a is not None]
        assert exact.confidence == pytest.approx(max(confidences), abs=1e-6)
        assert exact.confidence < 1.0  # the filler costs its little


def test_word_graphs_let_go_and_compiled_again_change_no_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Graphs are compiled when first aligned and only the most recent kept: one kept at a time answers alike."""
    texts = [
        "my calve is crampin",
        "um my calf is cramping",
        "the back of my thigh cramped up",
        "set a timer for twenty five minutes",
        "remember that my left knee clicks",
        "my eye does a weird flickering thing at night when reading",
        "what's the weather like",
    ]
    pack = load_pack(FIXTURES / "match_pack.yaml")
    kept_all = Matcher(pack)
    expected = [kept_all.match(text) for text in texts]
    monkeypatch.setattr(match_module, "_MAX_COMPILED", 1)
    kept_one = Matcher(pack)
    assert [kept_one.match(text) for text in texts] == expected
    assert len(kept_one._compiled) == 1 < len(kept_all._compiled)


def test_pruning_templates_for_hassil_changes_no_answer(bundled: Matcher, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [
        "why is my eyelid twitching",
        "my calves keep cramping at night",
        "could too much coffee make my eye twitch",
        "let's do some stretching for the back of my legs",
        "ow cramp cramp cramp",
        "what's the weather like",
    ]
    pruned = [bundled.match(text) for text in texts]
    assert sum(match.intent is not None for match in pruned) >= 4
    monkeypatch.setattr(match_module._Pruner, "prune", lambda self, expr, depth=0: expr)
    assert [bundled.match(text) for text in texts] == pruned


def test_the_fewest_letters_a_template_says_counts_lists_numbers_and_optional_parts() -> None:
    rules = {"body": parse_sentence("(calf|thigh)")}
    lists = {"muscle": TextSlotList.from_strings(["calf", "hamstring"]), "n": RangeSlotList("n", 1, 100)}

    def least(template: str) -> int:
        return match_module._least_letters(parse_sentence(template).expression, rules, lists)

    assert least("my eye[lid] twitches") == len("myeyetwitches")
    assert least("(my|the) <body> hurts") == len("mycalfhurts")
    assert least("{muscle} cramp") == len("calfcramp")
    assert least("set a timer for {n} minutes") == len("setatimerfor1minutes")
    assert least("(stretch;now)") == len("stretchnow")
    assert least("[please] stop") == len("stop")


def test_templates_too_long_for_the_text_left_out_change_no_answer(
    bundled: Matcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = ["help", "no i'm okay", "yes", "stop", "why is my eyelid twitching", "ow cramp cramp cramp", "pause"]
    filtered = [bundled.match_exact(text) for text in texts]
    assert sum(found is not None for found in filtered) >= 5
    monkeypatch.setattr(bundled, "_least_letters", [0] * len(bundled._least_letters))
    assert [bundled.match_exact(text) for text in texts] == filtered


def test_an_alternative_the_pack_says_exactly_beats_a_fuzzy_best_reading(matcher: Matcher) -> None:
    # A beam's best reading with a word the pack cannot place, and a next-best reading it says exactly.
    heard = Transcript("my calf is cramping up bad sort of", alternatives=("my hamstring is cramping",))
    assert matcher.match_exact(heard.text) is None
    found = matcher.match_heard(heard.text, heard)
    assert found.intent == "cramp_now" and found.slots.get("muscle") == "hamstring"
    # When the best reading is itself exact, it stands.
    exact = Transcript("my calf is cramping", alternatives=("my hamstring is cramping",))
    assert matcher.match_heard(exact.text, exact).slots.get("muscle") == "calf"


def test_a_likely_command_is_tried_after_unlikely_ones_fail(bundled: Matcher) -> None:
    """Templates that share a word with what was said ("i think") are tried first; when they fail, those
    that could still be accepted are tried too, not given up on."""
    match = bundled.match("i think my calf is cramping")
    assert (match.intent, match.slots.get("muscle")) == ("cramp_now", "calf")


def test_free_arcs_contracted_away_change_no_answer(bundled: Matcher, monkeypatch: pytest.MonkeyPatch) -> None:
    """A node whose only way on is one free arc is merged into where it leads (fewer cells in every row
    of the alignment); what the matcher finds, and how sure it is, stays the same."""
    texts = [
        "um my calf is cramping",
        "my calve is crampin real bad",
        "the back of my thigh cramped up",
        "why is my eyelid twitching so much lately",
        "i just blacked out yeah for a second on the bike",
        "what should i eat before a workout",
        "can you stretch my hamstrings please",
        "how long is left",
        "no i'm okay",
    ]
    graph = bundled._graph(0)
    passing_on = [
        node
        for node in range(len(graph.word_arcs))
        if not graph.word_arcs[node]
        and len(graph.other_arcs[node]) == 1
        and graph.other_arcs[node][0][0] == match_module._EPS
    ]
    assert passing_on == []
    contracted = [bundled.match_fuzzy(text) for text in texts]
    monkeypatch.setattr(match_module, "_contract", lambda draft, final: (draft, 0, final, list(range(len(draft.arcs)))))
    plain = Matcher(bundled.pack)
    assert len(plain._graph(0).word_arcs) > len(graph.word_arcs)
    for text, found in zip(texts, contracted, strict=True):
        before = plain.match_fuzzy(text)
        assert (found.intent, found.slots) == (before.intent, before.slots), text
        assert found.confidence == pytest.approx(before.confidence, abs=1e-9), text
    assert sum(found.intent is not None for found in contracted) >= 6


@pytest.mark.parametrize("text", ["what's the capital of france", "play the next song on my playlist"])
def test_nothing_close_names_no_closest_topic(bundled: Matcher, text: str) -> None:
    """A sentence from outside the pack that shares a word or two with it is not offered a topic."""
    match = bundled.match(text)
    assert match.intent is None
    assert match.confidence < match_module.CLOSEST_FLOOR
    assert match.closest is None


@pytest.mark.parametrize(
    ("text", "closest"),
    [
        ("hey does muscle feature mean als", "als_worry"),  # "twitching" misheard
        ("my eye does a weird flickering thing at night when reading", "eye_twitch"),
    ],
)
def test_a_near_miss_still_names_its_closest_topic(bundled: Matcher, text: str, closest: str) -> None:
    match = bundled.match_fuzzy(text)  # before the topic cues (test_cues.py), which now understand the second
    assert match.intent is None
    assert match.confidence >= match_module.CLOSEST_FLOOR
    assert match.closest == closest


FLAGGED_PACK = {
    "language": "en",
    "intents": {
        "choking": {
            "data": [{"sentences": ["(someone|he|she) is choking"]}],
            "emergency": True,
            "red_flags": [
                "choking",
                "(can't|cannot) breathe",
                "(throat|tongue) is [really] swelling",
                "(ate|stung) ... (wheezing|hives)",
            ],
            "answer": {"say": "Call emergency services now."},
        },
        "protein": {"data": [{"sentences": ["how much protein (do|should) i (eat|have)"]}]},
        "choking_down": {"data": [{"sentences": ["i am choking down my shake"]}]},
    },
}


def test_a_red_flag_said_in_any_words_is_its_emergency() -> None:
    matcher = Matcher(pack_from_dict(FLAGGED_PACK))
    # No template says these; the warning sign in them does.
    for text in (
        "oh god my training partner went red and now he can't breathe at all",
        "um his tongue is really swelling after that protein bar",
        "how much protein should i have he is choking",  # a likeness to a calm template does not hide it
    ):
        match = matcher.match(text)
        assert match.intent == "choking", text
        assert match.template is not None and match.template.startswith("red flag")
    assert matcher.match("he is choking").template == "(someone|he|she) is choking"  # a template first


def test_a_red_flag_denied_or_inside_a_calm_sentence_is_not_one() -> None:
    matcher = Matcher(pack_from_dict(FLAGGED_PACK))
    assert matcher.match("he is not choking he is just coughing").intent is None  # denied just before
    assert matcher.match("i am not really choking").intent is None  # within three words
    assert matcher.match("oh no he is choking on his shake").intent == "choking"  # "oh no" is a cry
    assert matcher.match("i am choking down my shake").intent == "choking_down"  # a template said exactly wins
    assert matcher.match("how much protein should i eat").intent == "protein"


def test_the_words_that_take_a_red_flag_back_are_the_packs() -> None:
    own = {**FLAGGED_PACK, "dialogue": {"negations": ["nope", "hardly"], "cries": ["oh nope"]}}
    matcher = Matcher(pack_from_dict(own))
    assert matcher.match("he is hardly choking he is just coughing").intent is None
    assert matcher.match("oh nope he is choking on his shake").intent == "choking"  # the pack's cry
    assert matcher.match("he is not choking he is just coughing").intent == "choking"  # "not" is not its word
    for bad in ("nope", [3], [""]):
        with pytest.raises(BadInput, match="negations"):
            pack_from_dict({**FLAGGED_PACK, "dialogue": {"negations": bad}})


def test_red_flag_in_takes_the_longest_phrase_at_the_first_place_said() -> None:
    flags = match_module._red_flags(pack_from_dict(FLAGGED_PACK))
    assert match_module.red_flag_in(normalize("my throat is swelling and i can't breathe").split(), flags) == (
        "(throat|tongue) is [really] swelling",
        "choking",
        "throat is swelling",
    )
    assert match_module.red_flag_in(normalize("he can't breathe").split(), flags) == (
        "(can't|cannot) breathe",
        "choking",
        "can not breathe",
    )
    assert match_module.red_flag_in(normalize("nothing wrong here").split(), flags) is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"emergency": False}, "belong to an emergency"),
        ({"red_flags": "choking"}, "must be a list of phrases"),
        ({"red_flags": ["{muscle} is swelling"]}, "words, (a|b), [c], <rule> and ... only"),
        ({"red_flags": ["ate ... "]}, "words, (a|b), [c], <rule> and ... only"),
        ({"red_flags": ["<no_such_rule> is swelling"]}, "words, (a|b), [c], <rule> and ... only"),
    ],
)
def test_bad_red_flags_are_refused_with_a_message(change: dict[str, Any], message: str) -> None:
    data = {**FLAGGED_PACK, "intents": {**FLAGGED_PACK["intents"]}}
    data["intents"]["choking"] = {**FLAGGED_PACK["intents"]["choking"], **change}
    with pytest.raises(BadInput, match=re.escape(message)):
        Matcher(pack_from_dict(data))


def test_a_red_flag_match_carries_the_words_it_was_heard_by() -> None:
    matcher = Matcher(pack_from_dict(FLAGGED_PACK))
    match = matcher.match("oh no he went red and he can't breathe")
    assert (match.intent, match.red_flag) == ("choking", "can not breathe")
    assert matcher.match("he is choking").red_flag is None  # a template said it


def test_signs_said_apart_outrank_one_sign_said_together() -> None:
    pack = pack_from_dict(
        {
            "language": "en",
            "intents": {
                "collapse": {
                    "data": [{"sentences": ["someone collapsed"]}],
                    "emergency": True,
                    "red_flags": ["(won't|will not) answer"],
                    "answer": {"say": "Check their breathing."},
                },
                "fit": {
                    "data": [{"sentences": ["someone is having a fit"]}],
                    "emergency": True,
                    "red_flags": ["shaking ... (won't|will not) answer"],
                    "answer": {"say": "Keep them safe from harm."},
                },
            },
        }
    )
    flags = match_module._red_flags(pack)
    said = normalize("he is shaking and he won't answer me").split()
    assert match_module.red_flag_in(said, flags) == (
        "shaking ... (won't|will not) answer",
        "fit",
        "shaking ... will not answer",
    )
    alone = normalize("he won't answer me").split()
    assert match_module.red_flag_in(alone, flags) == ("(won't|will not) answer", "collapse", "will not answer")


def test_a_red_flag_in_parts_is_heard_when_every_part_is_said_in_order_and_near() -> None:
    matcher = Matcher(pack_from_dict(FLAGGED_PACK))
    match = matcher.match("he ate something at the cafe and now he is wheezing")
    assert (match.intent, match.red_flag) == ("choking", "ate ... wheezing")
    assert matcher.match("he is wheezing after he ate").intent is None  # out of order
    far = "he ate lunch at noon and then we did three long hard rounds of the circuit before he was wheezing"
    assert matcher.match(far).intent is None  # more than APART_REACH words between the parts
    assert matcher.match("she ate something and she is not wheezing at all").intent is None  # a part denied


def test_an_optional_part_is_spelt_once_without_it() -> None:
    """hassil writes an optional part's empty choice as a chunk of its own; it must not count twice, or a
    long rule's plain spellings are the ones cut at the limit."""
    from hassil.parse_expression import parse_sentence

    assert match_module._text_options(parse_sentence("[very] [very] sore").expression) == [
        "very very sore",
        "very  sore",
        " very sore",
        "  sore",
    ]
