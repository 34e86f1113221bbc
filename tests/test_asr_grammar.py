"""Phrases and vocabulary taken from the pack, per waiting state."""

from __future__ import annotations

from pathlib import Path

from asr_fixtures import tiny_pack

from assistant.asr.grammar import phrases, spoken_words, vocabulary
from assistant.pack import pack_from_dict


def test_phrases_cover_templates_and_list_values(tmp_path: Path) -> None:
    found = phrases(tiny_pack(tmp_path))
    assert "my calf is cramping" in found
    assert "i have a cramp in my back of my thigh" in found  # list value written as a template
    assert "cramp in my foot" in found  # optional part left out
    assert "hamstring" in found  # list values alone, for "which muscle?" answers


def test_waiting_state_narrows_to_its_intents_plus_emergency(tmp_path: Path) -> None:
    found = set(phrases(tiny_pack(tmp_path), expects="yes_no"))
    assert {"yes", "nope", "stop", "chest pain"} <= found
    assert "pause" not in found and "my calf is cramping" not in found
    assert "pause" in vocabulary(tiny_pack(tmp_path), expects="routine")
    assert "yes" not in vocabulary(tiny_pack(tmp_path), expects="routine")


def test_unknown_state_listens_for_everything(tmp_path: Path) -> None:
    pack = tiny_pack(tmp_path)
    assert phrases(pack, expects="no_such_state") == phrases(pack)


def test_huge_template_is_sampled_not_enumerated() -> None:
    # 10 alternatives x 12 slots = 10**12 sentences: must come back quickly, bounded.
    sentence = " ".join("(a|b|c|d|e|f|g|h|i|j)" for _ in range(12))
    pack = pack_from_dict({"language": "en", "intents": {"big": {"data": [{"sentences": [sentence]}]}}})
    found = phrases(pack, per_intent=50)
    assert 10 < len(found) <= 50
    assert all(len(p.split()) == 12 for p in found)
    assert vocabulary(pack) == set("abcdefghij")


def test_a_shared_lead_in_does_not_crowd_out_later_templates() -> None:
    lead_in = "[(help|help me|please help|oh no|oh god|somebody help) [please]] [i think]"
    pack = pack_from_dict(
        {
            "language": "en",
            "expansion_rules": {"alarm": lead_in},
            "intents": {
                "emergency": {
                    "data": [
                        {
                            "sentences": [
                                "<alarm> (my|his|her) (chest|arm|jaw) (hurts|aches)",
                                "<alarm> (call|dial) (an ambulance|nine one one)",
                            ]
                        }
                    ]
                }
            },
        }
    )
    found = phrases(pack, per_intent=60)
    assert "call an ambulance" in found  # the first template's 60 sentences with lead-ins would fill the share
    assert "my chest hurts" in found


def test_numbers_become_words() -> None:
    assert spoken_words("Hold it for 30 seconds!") == ["hold", "it", "for", "thirty", "seconds"]
    assert spoken_words("I can't") == ["i", "can't"]
