"""Decoding into the pack: Whisper's beam search held to the sentences the active templates can say.

The templates (with their lists and rules) are compiled into a character automaton; the beam moves
through it a word at a time, each word written as Whisper's tokenizer writes it (lower case or
capitalised), and the sentence may close with "." "?" or "!". So where noise makes Whisper write words
nobody in the pack says ("light rose" for "light roast", a nearby talker's words), the search can only
follow sentences of the pack, and the model's own probabilities choose among them. Templates with a
wildcard (free text) are left out: they cannot be written down as characters. Why and what it measured:
DECISIONS.md, "Decoding into the pack".
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from hassil.expression import (
    Alternative,
    Expression,
    ListReference,
    Permutation,
    RuleReference,
    Sequence,
    TextChunk,
)
from hassil.intents import IntentData, RangeSlotList, SlotList, TextSlotList, WildcardSlotList
from num2words import num2words

from ..pack import Pack

_EPS = ""
_SPACE = " "
_MEMO = 100_000
"""Transitions remembered per automaton; past this the memo starts again (a long session stays bounded)."""
_KEEP = set("abcdefghijklmnopqrstuvwxyz0123456789' ")
MAX_DEPTH = 20
"""Deeper nesting (a rule that refers to itself) leaves the template out."""
MAX_PERMUTATION = 6
"""A permutation of more items (2**n nodes) leaves the template out."""

Position = tuple[int, int]
"""(node, node to return to when a list's value ends, or -1)."""
State = frozenset[Position]


def _chars(text: str) -> str:
    """Template text as the automaton reads it: lower case letters, digits and apostrophes; anything else
    is a space (runs of spaces read as one)."""
    return "".join(ch if ch in _KEEP else " " for ch in text.lower().replace("’", "'"))


@dataclass
class CharGrammar:
    """A character automaton (a DAG with list calls) over the sentences of some intents."""

    arcs: list[list[tuple[str, int]]] = field(default_factory=lambda: [[]])
    """Per node: (character or "" for none, target)."""
    calls: dict[int, list[tuple[str, int]]] = field(default_factory=dict)
    """Per node: (list name, node to go on from once the list's value is said)."""
    lists: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Per list: its values' start and end node."""
    start: int = 0
    final: int = 0
    offsets: array = field(default_factory=lambda: array("I"))
    """Once frozen: node n's arcs are ``labels[offsets[n]:offsets[n + 1]]`` and the same slice of ``targets``."""
    labels: str = ""
    """Once frozen: every arc's character, "\0" for none (one character an arc: a pack's automaton has
    a node per character of its templates, so lists of tuples would take tens of MB)."""
    targets: array = field(default_factory=lambda: array("I"))

    def node(self) -> int:
        self.arcs.append([])
        return len(self.arcs) - 1

    def add(self, source: int, label: str, target: int) -> None:
        self.arcs[source].append((label, target))

    def freeze(self) -> None:
        """Pack the arcs into flat arrays (the lists are let go)."""
        offsets, labels, targets = array("I", [0]), [], array("I")
        for arcs in self.arcs:
            for label, target in arcs:
                labels.append(label or "\0")
                targets.append(target)
            offsets.append(len(targets))
        self.offsets, self.labels, self.targets = offsets, "".join(labels), targets
        self.arcs = []

    def out(self, node: int) -> Iterable[tuple[str, int]]:
        """Node ``node``'s arcs as (character or "", target)."""
        begin, end = self.offsets[node], self.offsets[node + 1]
        return [
            ("" if ch == "\0" else ch, target)
            for ch, target in zip(self.labels[begin:end], self.targets[begin:end], strict=True)
        ]


class _Builder:
    """Adds hassil expressions to a ``CharGrammar`` (Thompson's construction; each list built once)."""

    def __init__(self, pack: Pack, grammar: CharGrammar) -> None:
        self.pack = pack
        self.grammar = grammar

    def text(self, start: int, text: str) -> int:
        node = start
        for ch in _chars(text):
            target = self.grammar.node()
            self.grammar.add(node, ch, target)
            node = target
        return node

    def expression(self, expr: Expression, start: int, data: IntentData | None, depth: int) -> int | None:
        """Build ``expr`` from ``start``; the end node, or None when it holds free text."""
        grammar = self.grammar
        if depth > MAX_DEPTH:
            return None
        if isinstance(expr, TextChunk):
            return self.text(start, expr.original_text or expr.text)
        if isinstance(expr, ListReference):
            return self.list_reference(expr, start, data)
        if isinstance(expr, RuleReference):
            rule = (data.expansion_rules if data else {}).get(expr.rule_name) or self.pack.intents.expansion_rules.get(
                expr.rule_name
            )
            return None if rule is None else self.expression(rule.expression, start, data, depth + 1)
        if isinstance(expr, Permutation):
            items = list(expr.items)
            if len(items) > MAX_PERMUTATION:
                return None
            nodes = {0: start}
            full = (1 << len(items)) - 1
            for subset in sorted(range(full + 1), key=lambda s: bin(s).count("1")):
                nodes.setdefault(subset, grammar.node())
            for subset in range(full + 1):
                for index, item in enumerate(items):
                    if subset & (1 << index):
                        continue
                    # hassil separates permuted items with spaces
                    spaced = grammar.node()
                    grammar.add(nodes[subset], _SPACE, spaced)
                    end = self.expression(item, spaced, data, depth + 1)
                    if end is None:
                        return None
                    grammar.add(end, _SPACE, nodes[subset | (1 << index)])
            return nodes[full]
        if isinstance(expr, Alternative):
            end = grammar.node()
            if expr.is_optional:
                grammar.add(start, _EPS, end)
            for item in expr.items:
                branch = self.expression(item, start, data, depth + 1)
                if branch is None:
                    return None
                grammar.add(branch, _EPS, end)
            return end
        if isinstance(expr, Sequence):
            node = start
            for item in expr.items:
                end = self.expression(item, node, data, depth + 1)
                if end is None:
                    return None
                node = end
            return node
        return start

    def list_reference(self, expr: ListReference, start: int, data: IntentData | None) -> int | None:
        grammar = self.grammar
        slot_list: SlotList | None
        if expr.is_inline_range:
            low, high, step = expr.get_inline_range() or (0, 0, 1)
            slot_list = RangeSlotList(name=f"{low}..{high},{step}", start=low, stop=high, step=step)
        else:
            slot_list = (data.slot_lists if data else {}).get(expr.list_name) or self.pack.intents.slot_lists.get(
                expr.list_name
            )
        if slot_list is None or isinstance(slot_list, WildcardSlotList):
            return None
        if data is not None and expr.list_name in data.wildcard_list_names:
            return None
        key = f"{id(data)}:{slot_list.name}"
        if key not in grammar.lists:
            begin, end = grammar.node(), grammar.node()
            grammar.lists[key] = (begin, end)
            if isinstance(slot_list, TextSlotList):
                for value in slot_list.values:
                    branch = self.expression(value.text_in, begin, None, 1)
                    if branch is not None:
                        grammar.add(branch, _EPS, end)
            elif isinstance(slot_list, RangeSlotList):
                for number in list(range(slot_list.start, slot_list.stop + 1, slot_list.step or 1))[:1000]:
                    spoken = str(num2words(number)).replace("-", " ")
                    for text in {spoken, str(number)}:
                        grammar.add(self.text(begin, text), _EPS, end)
        target = grammar.node()
        grammar.calls.setdefault(start, []).append((key, target))
        return target


def compile_grammar(pack: Pack, intent_ids: Iterable[str]) -> CharGrammar:
    """The character automaton of every template of ``intent_ids`` (templates with free text left out)."""
    grammar = CharGrammar()
    grammar.final = grammar.node()
    builder = _Builder(pack, grammar)
    for intent_id in intent_ids:
        for data in pack.intents.intents[intent_id].data:
            for sentence in data.sentences:
                begin = grammar.node()
                end = builder.expression(sentence.expression, begin, data, 0)
                if end is None:
                    continue
                grammar.add(grammar.start, _EPS, begin)
                grammar.add(end, _EPS, grammar.final)
    grammar.freeze()
    return grammar


class Automaton:
    """Reads characters through a ``CharGrammar``; states are sets of positions, transitions memoised.

    Spaces are loose: any run of spaces in a template (as optional parts leave them) reads as one, and an
    apostrophe joins the word before it ("i 'm" reads as "i'm", as the matcher's normaliser has it)."""

    def __init__(self, grammar: CharGrammar) -> None:
        self.g = grammar
        self._ends = {end for _, end in grammar.lists.values()}
        self._steps: dict[tuple[State, str], State] = {}
        self._spaced: dict[State, State] = {}

    def closure(self, positions: Iterable[Position]) -> State:
        """``positions`` and everything reachable from them reading nothing."""
        seen: set[Position] = set()
        stack = list(positions)
        g = self.g
        while stack:
            position = stack.pop()
            if position in seen:
                continue
            seen.add(position)
            node, back = position
            for label, target in g.out(node):
                if label == _EPS:
                    stack.append((target, back))
            for key, target in g.calls.get(node, ()):
                begin, _ = g.lists[key]
                stack.append((begin, target))
            if back >= 0 and node in self._ends:
                stack.append((back, -1))
        return frozenset(seen)

    def begin(self) -> State:
        return self.spaces(self.closure([(self.g.start, -1)]))

    def spaces(self, state: State) -> State:
        """``state`` with any spaces skipped (what follows a space already read)."""
        if state not in self._spaced:
            seen = set(state)
            frontier = list(state)
            while frontier:
                more = self.closure(
                    (target, back) for node, back in frontier for label, target in self.g.out(node) if label == _SPACE
                )
                frontier = [p for p in more if p not in seen]
                seen.update(frontier)
            if len(self._spaced) > _MEMO:
                self._spaced.clear()
            self._spaced[state] = frozenset(seen)
        return self._spaced[state]

    def step(self, state: State, ch: str) -> State:
        """The state after reading ``ch`` (empty when it cannot be read)."""
        key = (state, ch)
        if key not in self._steps:
            source = state | self.step(state, _SPACE) if ch == "'" else state  # "i 'm" in a template is "i'm"
            moved = [(target, back) for node, back in source for label, target in self.g.out(node) if label == ch]
            result = self.closure(moved) if moved else frozenset()
            if ch == _SPACE:
                result = self.spaces(result) if result else frozenset()
            if len(self._steps) > _MEMO:
                self._steps.clear()
            self._steps[key] = result
        return self._steps[key]

    def is_final(self, state: State) -> bool:
        """Whether a sentence may end here (spaces a template leaves at its end, as optional parts do, need
        not be read)."""
        return (self.g.final, -1) in self.spaces(state)


@dataclass(frozen=True)
class _Hyp:
    tokens: tuple[int, ...]
    """Text tokens so far."""
    score: float
    """Their summed log-probability."""
    state: State
    """Where the automaton is: after the last whole word (or at the start)."""
    pending: tuple[int, ...] = ()
    """Tokens of the word being said that are still to come."""
    after: State = frozenset()
    """Where the automaton is once the pending word is said."""
    ended: bool = False
    """A full stop was said: only the end of text may follow."""


class PackDecoder:
    """Constrained beam search for one Whisper model and one pack's sentences.

    The search moves a word at a time through the automaton: each next word is written as Whisper's
    tokenizer writes it (in lower case or capitalised, after a space), so the beam holds different
    sentences, not different spellings of one."""

    def __init__(self, model, tokenizer, pack: Pack, intent_ids: Iterable[str]) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.eot = tokenizer.eot
        self.stops = [t for mark in (".", "?", "!") for t in tokenizer.encode(mark)[:1]]
        self.automaton = Automaton(compile_grammar(pack, intent_ids))
        skip = sorted({" ".join(_chars(p).split()) for p in pack.intents.skip_words} - {""}, key=len, reverse=True)
        self._skip = re.compile(r"\b(" + "|".join(re.escape(p) for p in skip) + r")\b") if skip else None
        self._words: dict[State, list[tuple[tuple[int, ...], State]]] = {}
        self.calls = 0

    def next_words(self, state: State, at_start: bool) -> list[tuple[tuple[int, ...], State]]:
        """The words that may come next (as token sequences, both casings) and the state after each."""
        automaton = self.automaton
        begin = state if at_start else automaton.step(state, _SPACE)
        if begin in self._words:
            return self._words[begin]
        found: dict[str, set[Position]] = {}

        def walk(current: State, word: str, depth: int) -> None:
            if word and (automaton.is_final(current) or automaton.step(current, _SPACE)):
                found.setdefault(word, set()).update(current)
            if depth > 40:
                return
            for ch in {label for node, _ in current for label, _ in automaton.g.out(node) if label and label != _SPACE}:
                nxt = automaton.step(current, ch)
                if nxt:
                    walk(nxt, word + ch, depth + 1)

        if begin:
            walk(begin, "", 0)
        words: list[tuple[tuple[int, ...], State]] = []
        for word, positions in found.items():
            after = automaton.closure(positions)
            for spelling in dict.fromkeys((word, word[:1].upper() + word[1:])):
                words.append((tuple(self.tokenizer.encode(" " + spelling)), after))
        if len(self._words) > _MEMO // 10:
            self._words.clear()
        self._words[begin] = words
        return words

    def says(self, text: str) -> bool:
        """Whether ``text`` is a sentence of the pack as the automaton reads it (the pack's skip words, such
        as "um", left out as the matcher leaves them out)."""
        automaton = self.automaton
        state = automaton.begin()
        text = _chars(text)
        if self._skip is not None:
            text = self._skip.sub(" ", text)
        for ch in " ".join(text.split()):
            state = automaton.step(state, ch)
            if not state:
                return False
        return automaton.is_final(state)

    def decode(
        self,
        encoded: np.ndarray,
        prefix: list[int],
        beam: int = 5,
        max_tokens: int = 48,
        deadline: float | None = None,
    ) -> tuple[str, float, int] | None:
        """The best sentence of the pack for ``encoded`` (encoder output, [1, frames, width]), its summed
        log-probability and its length in tokens (the end of text counted); None when no sentence was
        finished (or ``deadline``, a ``time.perf_counter()`` value, passed first)."""
        start = self.automaton.begin()
        live = [_Hyp((), 0.0, start)]
        finished: list[tuple[float, tuple[int, ...]]] = []
        rows = _Rows(self.model, encoded, prefix)
        for _ in range(max_tokens):
            if not live or (deadline is not None and time.perf_counter() > deadline):
                break
            rows.fill([h.tokens for h in live])
            candidates: list[tuple[float, _Hyp | None, tuple[int, ...]]] = []
            nxt: _Hyp | None
            for hyp in live:
                logprobs = rows.logprobs(hyp.tokens)
                if hyp.pending:
                    token = hyp.pending[0]
                    rest = hyp.pending[1:]
                    nxt = _Hyp(hyp.tokens + (token,), 0.0, hyp.after if not rest else hyp.state, rest, hyp.after)
                    candidates.append((hyp.score + float(logprobs[token]), nxt, ()))
                    continue
                if hyp.ended:
                    candidates.append((hyp.score + float(logprobs[self.eot]), None, hyp.tokens))
                    continue
                if hyp.tokens and self.automaton.is_final(hyp.state):
                    candidates.append((hyp.score + float(logprobs[self.eot]), None, hyp.tokens))
                    for stop in self.stops:
                        nxt = _Hyp(hyp.tokens + (stop,), 0.0, hyp.state, ended=True)
                        candidates.append((hyp.score + float(logprobs[stop]), nxt, ()))
                for word, after in self.next_words(hyp.state, not hyp.tokens):
                    rest = word[1:]
                    nxt = _Hyp(hyp.tokens + word[:1], 0.0, after if not rest else hyp.state, rest, after)
                    candidates.append((hyp.score + float(logprobs[word[0]]), nxt, ()))
            candidates.sort(key=lambda c: -c[0])
            live = []
            seen: set[tuple[tuple[int, ...], tuple[int, ...]]] = set()
            for rank, (score, nxt, tokens) in enumerate(candidates):
                if nxt is None:
                    if rank < beam:  # an ending counts when it is among the beam's best
                        finished.append((score, tokens))
                elif (nxt.tokens, nxt.pending) not in seen:
                    seen.add((nxt.tokens, nxt.pending))
                    live.append(dataclasses.replace(nxt, score=score))
                if len(live) >= beam:
                    break
            if len(finished) >= beam:
                break
        self.calls = rows.calls
        if not finished:
            return None
        # As Whisper's own beam: the best score per token (a sum alone prefers sentences cut short).
        score, tokens = max(finished, key=lambda f: f[0] / (len(f[1]) + 1))
        return self.tokenizer.decode(list(tokens)).strip(), score, len(tokens) + 1

    def score(self, encoded: np.ndarray, prefix: list[int], text: str) -> float:
        """Summed log-probability of ``text`` (closed by the end of text) after ``prefix``."""
        tokens = tuple(self.tokenizer.encode(" " + text.strip()))
        rows = _Rows(self.model, encoded, prefix)
        rows.fill([tokens])
        total = 0.0
        for index in range(len(tokens) + 1):
            rows.fill([tokens[:index]])
            nxt = tokens[index] if index < len(tokens) else self.eot
            total += float(rows.logprobs(tokens[:index])[nxt])
        return total


class _Rows:
    """Whisper's next-token log-probabilities for one turn, by the text tokens said so far.

    CTranslate2 has no step-by-step decoding, so each call forces a prefix and returns a row of logits
    per position; the call also lets the model go on greedily for ``LOOKAHEAD`` tokens, and every row it
    returns is kept, so a hypothesis that follows the model's own choice needs no call of its own."""

    LOOKAHEAD = 12

    def __init__(self, model, encoded: np.ndarray, prefix: list[int]) -> None:
        self.model = model
        self.encoded = encoded
        self.prefix = prefix
        self.raw: dict[tuple[int, ...], object] = {}
        self.done: dict[tuple[int, ...], np.ndarray] = {}
        self.features: dict[int, object] = {}
        self.calls = 0

    def fill(self, wanted: list[tuple[int, ...]]) -> None:
        """Make sure a row is kept for every token sequence in ``wanted`` (all of one length)."""
        import ctranslate2

        missing = list(dict.fromkeys(t for t in wanted if t not in self.raw and t not in self.done))
        if not missing:
            return
        size = len(missing)
        if size not in self.features:
            self.features[size] = ctranslate2.StorageView.from_array(
                np.ascontiguousarray(np.repeat(self.encoded, size, axis=0))
            )
        forced = len(missing[0])
        # How many rows CTranslate2 returns depends on max_length in a way it does not document (with 4.8,
        # about half of it past a short start), so the length is raised until the rows are there.
        length = len(self.prefix) + 2 * (forced + 1 + self.LOOKAHEAD)
        while True:
            self.calls += 1
            results = self.model.generate(
                self.features[size],
                [self.prefix + list(tokens) for tokens in missing],
                beam_size=1,
                max_length=min(length, 448),
                return_logits_vocab=True,
                suppress_blank=False,
                suppress_tokens=[],
            )
            if all(len(r.logits[0]) > forced for r in results) or length >= 448:
                break
            length *= 2
        for tokens, result in zip(missing, results, strict=True):
            said = list(tokens) + list(result.sequences_ids[0][forced:])
            for index, row in enumerate(result.logits[0]):
                if index > len(said):
                    break
                self.raw.setdefault(tuple(said[:index]), row)

    def logprobs(self, tokens: tuple[int, ...]) -> np.ndarray:
        if tokens not in self.done:
            logits = np.asarray(self.raw.pop(tokens), dtype=np.float32)
            top = logits.max()
            self.done[tokens] = logits - (top + math.log(np.exp(logits - top).sum()))
        return self.done[tokens]
