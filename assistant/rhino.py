"""Picovoice Rhino contexts as hassil packs: ``assistant import-rhino context.yaml -o pack.yaml``.

A Rhino context holds ``expressions`` per intent, written with ``[a, b]`` (say one of these),
``(a, b)`` (say one of these, or nothing), ``$type:name`` (a slot filled from the ``slots`` list
``type``, or a built-in ``pv.`` number) and ``@macro`` (a reusable phrase list from ``macros``).
Each maps onto hassil's template language one to one, so the pack says exactly what the context
says: ``(a|b)``, ``[a|b]``, ``{type:name}`` and ``<macro>``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from .errors import BadInput
from .pack import Pack, pack_from_dict, read_yaml

BUILTIN_SLOTS = {
    "pv.SingleDigitInteger": {"range": {"from": 0, "to": 9}},
    "pv.TwoDigitInteger": {"range": {"from": 0, "to": 99}},
    "pv.Percent": {"range": {"from": 0, "to": 100}},
}
"""Rhino's built-in number slots that a hassil range says the same way; others are refused."""

_TOKEN_RE = re.compile(r"\$([\w.]+):(\w+)|@(\w+)|[\[\]()]|,|[^\[\](),$@]+|[$@]")


def rhino_to_pack_dict(context_file: Any, name: str = "<rhino context>") -> dict[str, Any]:
    """The pack (as YAML-ready data) that says what a parsed Rhino context file says."""
    context = context_file.get("context") if isinstance(context_file, dict) else None
    if not isinstance(context, dict) or not isinstance(context.get("expressions"), dict):
        raise BadInput(f"{name}: not a Rhino context (needs context: expressions: ...)")
    slots = context.get("slots") or {}
    macros = context.get("macros") or {}
    if not isinstance(slots, dict) or not isinstance(macros, dict):
        raise BadInput(f"{name}: 'slots' and 'macros' must be mappings")
    lists: dict[str, Any] = {}
    for slot_type, values in slots.items():
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise BadInput(f"{name}: slot '{slot_type}' must be a list of phrases")
        lists[slot_type] = {"values": [_plain(v, f"slot '{slot_type}'", name) for v in values]}
    rules: dict[str, str] = {}
    for macro, phrases in macros.items():
        if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases):
            raise BadInput(f"{name}: macro '{macro}' must be a list of phrases")
        rules[macro] = "(" + "|".join(_template(p, lists, slots, macros, name) for p in phrases) + ")"
    intents: dict[str, Any] = {}
    for intent, expressions in context["expressions"].items():
        if not isinstance(expressions, list) or not all(isinstance(e, str) for e in expressions):
            raise BadInput(f"{name}: intent '{intent}' needs a list of expressions")
        sentences = [_template(e, lists, slots, macros, name) for e in expressions]
        intents[intent] = {"data": [{"sentences": sentences}]}
    pack: dict[str, Any] = {"language": "en", "intents": intents}
    if lists:
        pack["lists"] = lists
    if rules:
        pack["expansion_rules"] = rules
    return pack


def load_rhino_pack(path: Path) -> Pack:
    """Load a Rhino context YAML file straight into a ``Pack`` (no file written)."""
    return pack_from_dict(rhino_to_pack_dict(read_yaml(Path(path)), str(path)), str(path), (Path(path),))


def write_pack(pack: dict[str, Any], out: Path) -> None:
    """Write pack data as a YAML pack file."""
    text = "# Converted from a Picovoice Rhino context by `assistant import-rhino`.\n" + yaml.safe_dump(
        pack, sort_keys=False, allow_unicode=True, width=1000
    )
    try:
        Path(out).write_text(text, encoding="utf-8")
    except OSError as error:
        raise BadInput(f"{out}: cannot write pack: {error.strerror}") from None


def _plain(phrase: str, what: str, name: str) -> str:
    if any(char in phrase for char in "[](){}<>|;$@"):
        raise BadInput(f"{name}: {what}: value {phrase!r} holds template characters")
    return phrase.strip()


def _template(expression: str, lists: dict[str, Any], slots: dict[str, Any], macros: dict[str, Any], name: str) -> str:
    """One Rhino expression in hassil's template syntax."""
    out: list[str] = []
    groups: list[str] = []  # the closing bracket of each open group
    for token in _TOKEN_RE.finditer(expression):
        text = token.group(0)
        slot_type, slot_name, macro = token.group(1), token.group(2), token.group(3)
        if slot_type:
            if slot_type in BUILTIN_SLOTS:
                lists.setdefault(slot_type, BUILTIN_SLOTS[slot_type])
            elif slot_type not in slots:
                raise BadInput(f"{name}: expression {expression!r} uses unknown slot type ${slot_type}")
            out.append(f"{{{slot_type}:{slot_name}}}")
        elif macro:
            if macro not in macros:
                raise BadInput(f"{name}: expression {expression!r} uses unknown macro @{macro}")
            out.append(f"<{macro}>")
        elif text in "[(":
            groups.append(")" if text == "[" else "]")
            out.append("(" if text == "[" else "[")
        elif text in "])":
            if not groups or groups.pop() != (")" if text == "]" else "]"):
                raise BadInput(f"{name}: expression {expression!r} has unbalanced brackets")
            out.append(")" if text == "]" else "]")
        elif text == ",":
            if not groups:
                raise BadInput(f"{name}: expression {expression!r} has a comma outside brackets")
            out.append("|")
        elif text in "$@" or any(char in text for char in "{}<>|;"):
            raise BadInput(f"{name}: expression {expression!r} holds {text.strip()!r}, which Rhino does not define")
        else:
            out.append(re.sub(r"\s+", " ", text))
    if groups:
        raise BadInput(f"{name}: expression {expression!r} has unbalanced brackets")
    return _tidy("".join(out))


def _tidy(template: str) -> str:
    """Single spaces, and none just inside brackets or around ``|``."""
    template = re.sub(r"\s+", " ", template)
    template = re.sub(r"\s*\|\s*", "|", template)
    template = re.sub(r"([(\[])\s+", r"\1", template)
    template = re.sub(r"\s+([)\]])", r"\1", template)
    return template.strip()
