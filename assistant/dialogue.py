"""The dialogue manager: an explicit state machine driven by the pack's data.

``Match`` in, ``Turn`` out. What an intent does (answer, follow-up, interview, routine,
emergency, control) is read from the pack; this module only knows the states and how the
built-in controls move between them. Routines are timed on the one injectable clock:
``poll()`` returns what is due, so nothing here ever sleeps unless asked to (``advance``).

States (``Dialogue.state``):

- ``idle``: nothing pending.
- ``follow_up``: a yes/no question after an answer (or a "did you mean ...?") is pending.
- ``triage``: an interview question is pending (yes/no).
- ``choose_muscle``: a routine was asked for without a muscle; "which muscle?" is pending.
- ``routine``: a routine is running; ``paused``: it is paused (also while a question asked
  mid-routine is answered: the routine waits underneath until "resume").
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from .checks import dangling_references
from .clock import Clock, SystemClock
from .errors import BadInput
from .messages import Match, Turn
from .pack import Action, IntentBehaviour, Pack, StretchRoutine, TriageInterview, TriageQuestion

_EPSILON = 1e-6
"""Slack for float time: a cue this close to due is due."""

DEFAULT_PHRASES: dict[str, str] = {
    "paused": "Paused. Say resume when you're ready.",
    "resumed": "Carrying on.",
    "stopped": "Okay, stopped.",
    "nothing_to_repeat": "I haven't said anything yet.",
    "no_more": "That's all I have on that.",
    "time_left": "{seconds} seconds left.",
    "next_in": "Moving on in {seconds} seconds.",
    "which_muscle": "Which muscle is cramping?",
    "which_stretch": "Which muscle would you like to stretch?",
    "first_side": "Start with the {side} side.",
    "switch_sides": "Now the {side} side.",
    "again": "Back into the stretch.",
    "hold": "Hold for {seconds} seconds.",
    "halfway": "Halfway there.",
    "seconds_left": "{seconds} seconds left.",
    "release": "And release.",
    "rest": "Relax for {seconds} seconds.",
    "routine_done": "That's the routine done.",
    "nothing_paused": "Nothing is paused.",
    "not_in_routine": "We're not doing a stretch right now.",
    "routine_help": "During a stretch, say pause, resume, next, repeat, how long is left, or stop.",
    "say_resume": "Say resume to carry on with the {title}.",
    "no_routine": "I don't have a routine for the {muscle} yet.",
    "follow_up_declined": "Okay. Ask me any time.",
    "nothing_pending": "There's no question waiting for an answer.",
    "yes_or_no": "Please answer yes or no.",
}
"""English defaults for the fixed phrases; a pack's ``dialogue.phrases`` overrides any of them."""


class State(str, Enum):
    """Where the conversation is."""

    IDLE = "idle"
    FOLLOW_UP = "follow_up"
    TRIAGE = "triage"
    CHOOSE_MUSCLE = "choose_muscle"
    ROUTINE = "routine"
    PAUSED = "paused"


EXPECTS: dict[State, str | None] = {
    State.IDLE: None,
    State.FOLLOW_UP: "yes_no",
    State.TRIAGE: "yes_no",
    State.CHOOSE_MUSCLE: "muscle",
    State.ROUTINE: "routine",
    State.PAUSED: "routine",
}
"""What each state listens for (the ``expects`` of ``context()`` and of each ``Turn``)."""


@dataclass(frozen=True)
class _Question:
    """A pending yes/no question outside an interview: a follow-up or a "did you mean"."""

    ask: str
    yes: Action
    no: Action
    confirm: Match | None = None
    """For "did you mean": a yes acts on this match."""


@dataclass(frozen=True)
class _MuscleWanted:
    """A routine was asked for without a muscle."""

    kind: str
    slot: str


@dataclass(frozen=True)
class _Cue:
    """Something a routine says at a point of its own (pausable) timeline."""

    at: float
    """Seconds of running time from the start of the routine."""
    say: tuple[str, ...]
    step: int
    """Index of the step it belongs to."""
    countdown: bool = False
    """Progress news ("ten seconds left"), not worth saying once a later cue is due too."""
    segment: bool = False
    """First hold of a step or of a side: where "next" lands."""
    final: bool = False
    """The outro: the routine ends here."""


@dataclass(frozen=True)
class _Phase:
    """A stretch of routine time: a hold, or the gap before what comes next."""

    start: float
    end: float
    holding: bool
    step: int


def _timeline(routine: StretchRoutine, phrase: Callable[..., str]) -> tuple[list[_Cue], list[_Phase]]:
    """Lay a routine out in time: what is said when, and the holds and gaps between."""
    cues: list[_Cue] = []
    phases: list[_Phase] = []
    t = 0.0
    lead: list[str] = [routine.intro]
    # One unit per hold: (step index, side, repetition), in the order they are done.
    units = [
        (i, side, rep)
        for i, step in enumerate(routine.steps)
        for side in (step.sides or (None,))
        for rep in range(step.repetitions)
    ]
    for n, (i, side, rep) in enumerate(units):
        step = routine.steps[i]
        first_of_step = n == 0 or units[n - 1][0] != i
        say = lead
        lead = []
        if first_of_step:
            say.append(step.say)
            if side:
                say.append(phrase("first_side", side=side))
        elif rep == 0:
            say.append(phrase("switch_sides", side=side))
        else:
            say.append(phrase("again"))
        hold = step.hold_seconds
        if hold > 0:
            say.append(phrase("hold", seconds=hold))
        cues.append(_Cue(t, tuple(say), i, segment=rep == 0))
        after: list[str] = []
        if hold > 0:
            phases.append(_Phase(t, t + hold, True, i))
            if hold >= 40:
                cues.append(_Cue(t + hold / 2, (phrase("halfway"),), i, countdown=True))
            left = 10 if hold >= 20 else 5 if hold >= 10 else 0
            if left:
                cues.append(_Cue(t + hold - left, (phrase("seconds_left", seconds=left),), i, countdown=True))
            t += hold
            after.append(phrase("release"))
        last = n == len(units) - 1
        # A step without a hold still needs time to be done before moving on.
        gap = step.rest_seconds if (not last or hold == 0) else 0
        if gap > 0:
            if hold > 0 and not last:
                after.append(phrase("rest", seconds=gap))
            if after:
                cues.append(_Cue(t, tuple(after), i))
                after = []
            phases.append(_Phase(t, t + gap, False, i))
            t += gap
        if last:
            cues.append(_Cue(t, (*after, routine.outro, phrase("routine_done")), i, final=True))
        elif after:
            cues.append(_Cue(t, tuple(after), i))
    cues.sort(key=lambda cue: cue.at)
    return cues, phases


@dataclass
class _Run:
    """A routine in progress, with its own running time that stops while paused."""

    routine: StretchRoutine
    cues: list[_Cue]
    phases: list[_Phase]
    next_cue: int = 0
    """Index of the first cue not yet said."""
    offset: float = 0.0
    """Running time banked before the last resume."""
    resumed_at: float | None = None
    """Clock time of the last start or resume; None while paused."""
    answered: bool = False
    """Something else was said while paused (so "repeat" repeats that, not the step)."""
    held_at: float | None = None
    """Clock time since which the assistant has been talking (running time stands still); None otherwise."""

    @property
    def paused(self) -> bool:
        return self.resumed_at is None

    def elapsed(self, now: float) -> float:
        """Running time of the routine so far."""
        if self.resumed_at is None:
            return self.offset
        return self.offset + (now if self.held_at is None else self.held_at) - self.resumed_at

    def pause(self, now: float) -> None:
        self.offset = self.elapsed(now)
        self.resumed_at = None
        self.held_at = None

    def resume(self, now: float) -> None:
        if self.resumed_at is None:
            self.resumed_at = now

    def hold(self, talking: bool, now: float) -> None:
        """Stop running time while the assistant talks, and go on from where it stood afterwards."""
        if talking and self.held_at is None:
            self.held_at = now
        elif not talking and self.held_at is not None:
            if self.resumed_at is not None:
                self.resumed_at += now - self.held_at
            self.held_at = None

    def jump(self, to: float, now: float) -> None:
        """Move running time to ``to`` (keeping paused or running)."""
        self.offset = to
        if self.resumed_at is not None:
            self.resumed_at = now

    def phase(self, elapsed: float) -> _Phase | None:
        """The hold or gap under way at ``elapsed``."""
        return next((p for p in self.phases if p.start <= elapsed < p.end), None)


@dataclass
class _Reply:
    """A turn being put together."""

    say: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    disposition: str | None = None
    new: bool = False
    """New content (an answer, a question, advice) that "repeat" gives back."""


class Dialogue:
    """The dialogue manager for one conversation.

    ``handle`` takes each user turn; ``poll`` returns what a running routine says as time
    passes. Both return ``Turn`` objects; neither sleeps.
    """

    def __init__(self, pack: Pack, clock: Clock | None = None) -> None:
        _check_references(pack)
        self.pack = pack
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._question: _Question | None = None
        self._interview: tuple[TriageInterview, TriageQuestion] | None = None
        self._wanted: _MuscleWanted | None = None
        self._run: _Run | None = None
        self._last_said: tuple[str, ...] = ()
        self._more: list[str] = []

    # ----- what the rest of the pipeline reads

    @property
    def state(self) -> State:
        """The current state; a routine paused under a pending question counts as that question."""
        if self._interview is not None:
            return State.TRIAGE
        if self._question is not None:
            return State.FOLLOW_UP
        if self._wanted is not None:
            return State.CHOOSE_MUSCLE
        if self._run is not None:
            return State.PAUSED if self._run.paused else State.ROUTINE
        return State.IDLE

    @property
    def expects(self) -> str | None:
        """What the next user turn is expected to be: "yes_no", "routine", "muscle" or None."""
        return EXPECTS[self.state]

    def context(self) -> dict[str, Any]:
        """Context for the matcher (keys for hassil's ``requires_context``/``excludes_context``)."""
        context: dict[str, Any] = {"state": self.state.value}
        if self.expects is not None:
            context["expects"] = self.expects
        return context

    def phrase(self, key: str, **values: Any) -> str:
        """A fixed phrase from the pack (or its English default), placeholders filled in."""
        return _phrase(self.pack, key, **values)

    # ----- user turns

    def handle(self, match: Match) -> Turn:
        """Act on one user turn and return what to say back."""
        behaviour = self.pack.behaviours.get(match.intent) if match.intent else None
        reply = _Reply()
        if behaviour is None:
            self._not_understood(match, reply)
        elif behaviour.emergency:
            self._end_all()
            self._act_on(behaviour, match.slots, reply)
        elif behaviour.control:
            confirmed = self._control(behaviour.control, reply)
            if confirmed is not None:
                return self.handle(confirmed)
        else:
            self._content(behaviour, match, reply)
        return self._turn(reply, match)

    def _content(self, behaviour: IntentBehaviour, match: Match, reply: _Reply) -> None:
        """A topic, a routine or a bare intent, in whatever state we are in."""
        acts = bool(behaviour.answer or behaviour.triage or behaviour.routine)
        if self._wanted is not None:
            # A bare "calf" arrives as cramp_now (or any intent) with a muscle slot; it answers our
            # question, so the kind asked about wins over the kind of the intent it matched.
            slot = behaviour.routine.slot if behaviour.routine else self._wanted.slot
            muscle = match.slots.get(slot)
            if muscle:
                kind = self._wanted.kind
                self._end_all()
                self._start_routine_for(muscle, kind, reply)
                return
            if not (behaviour.answer or behaviour.triage):
                reply.say.extend(self._pending_prompt())
                return
        if self._interview is not None and not acts:
            self._reask(reply)
            return
        if behaviour.routine:
            self._end_all()
        else:
            self._end_pending()
            # A question mid-routine: hold the routine where it is until "resume".
            if acts and self._run is not None and not self._run.paused:
                self._run.pause(self.clock.now())
        self._act_on(behaviour, match.slots, reply)

    def _act_on(self, behaviour: IntentBehaviour, slots: dict[str, str], reply: _Reply) -> None:
        """Do what the pack says for an intent: answer, then a routine, follow-up or interview."""
        if not (behaviour.answer or behaviour.triage or behaviour.routine):
            return
        reply.new = True
        self._more = []
        if behaviour.answer:
            reply.say.append(behaviour.answer.say)
            reply.sources.extend(behaviour.answer.sources)
            self._more = list(behaviour.answer.more)
        if behaviour.routine:
            muscle = slots.get(behaviour.routine.slot) or behaviour.routine.default
            if muscle is None:
                self._wanted = _MuscleWanted(behaviour.routine.kind, behaviour.routine.slot)
                reply.say.extend(self._pending_prompt())
            else:
                self._start_routine_for(muscle, behaviour.routine.kind, reply)
        elif behaviour.follow_up:
            follow_up = behaviour.follow_up
            self._question = _Question(follow_up.ask, follow_up.yes, follow_up.no)
            reply.say.append(follow_up.ask)
        elif behaviour.triage:
            self._start_interview(self.pack.triage[behaviour.triage], reply)

    def _not_understood(self, match: Match, reply: _Reply) -> None:
        if self._interview is not None or self._question is not None:
            self._reask(reply)
            return
        not_understood = self.pack.dialogue.not_understood
        if self._wanted is not None:
            reply.say.extend([not_understood.format(closest=""), *self._pending_prompt()])
            return
        closest = match.closest or ""
        name = self.pack.dialogue.topic_names.get(closest)
        behaviour = self.pack.behaviours.get(closest)
        reply.say.append(not_understood.format(closest=name or ""))
        # "Did you mean" only for a topic with a spoken name, and never over a routine.
        if name and behaviour is not None and not behaviour.control and self._run is None:
            ask = self.pack.dialogue.did_you_mean.format(closest=name)
            confirm = Match(
                text=match.text,
                normalized=match.normalized,
                intent=closest,
                slots=dict(match.slots),
                confidence=match.confidence,
                closest=closest,
            )
            self._question = _Question(ask, Action(), Action(), confirm=confirm)
            reply.say.append(ask)

    # ----- controls

    def _control(self, control: str, reply: _Reply) -> Match | None:
        """Carry out a built-in control; return a match to act on when a "did you mean" got a yes."""
        if control in ("yes", "no"):
            return self._yes_no(control == "yes", reply)
        {
            "stop": self._stop,
            "pause": self._pause,
            "resume": self._resume,
            "repeat": self._repeat,
            "next": self._next,
            "time_left": self._time_left,
            "help": self._help,
            "more": self._more_part,
        }[control](reply)
        return None

    def _yes_no(self, yes: bool, reply: _Reply) -> Match | None:
        if self._interview is not None:
            interview, question = self._interview
            self._interview_step(interview, question.yes if yes else question.no, reply)
        elif self._question is not None:
            pending = self._question
            self._question = None
            if pending.confirm is not None and yes:
                return pending.confirm
            self._follow(pending.yes if yes else pending.no, reply)
        elif self._wanted is not None:
            if yes:
                reply.say.extend(self._pending_prompt())
            else:
                self._wanted = None
                reply.say.append(self.phrase("follow_up_declined"))
        else:
            reply.say.append(self.phrase("nothing_pending"))
            if self._run is None:
                reply.say.append(self.pack.dialogue.help)
        return None

    def _follow(self, action: Action, reply: _Reply, checked: bool = False) -> None:
        """Carry out the yes or no of a follow-up (or the end of an interview: ``checked``, as a
        routine it starts has had its check)."""
        reply.new = True
        if action.say:
            reply.say.append(action.say)
        if action.answer:
            self._act_on(self.pack.behaviours[action.answer], {}, reply)
        elif action.routine:
            self._end_all()
            self._start_routine(self.pack.routines[action.routine], reply, checked)
        elif action.triage:
            self._start_interview(self.pack.triage[action.triage], reply)
        if not reply.say:
            reply.say.append(self.phrase("follow_up_declined"))

    def _start_interview(self, interview: TriageInterview, reply: _Reply) -> None:
        question = interview.questions[interview.start]
        self._interview = (interview, question)
        reply.say.extend([interview.intro, question.ask])
        reply.sources.extend(interview.sources)
        reply.new = True

    def _interview_step(self, interview: TriageInterview, action: Action, reply: _Reply) -> None:
        """Follow a yes or no inside an interview: to the next question or to a disposition."""
        if action.next:
            question = interview.questions[action.next]
            self._interview = (interview, question)
            reply.say.extend([action.say or "", question.ask])
            reply.new = True
            return
        self._interview = None
        if action.disposition:
            disposition = self.pack.dispositions[action.disposition]
            reply.say.extend([action.say or "", disposition.say])
            reply.sources.extend(disposition.sources)
            reply.disposition = disposition.id
            reply.new = True
        else:
            self._follow(action, reply, checked=True)

    def _stop(self, reply: _Reply) -> None:
        self._end_all()
        self._more = []
        reply.say.append(self.phrase("stopped"))

    def _pause(self, reply: _Reply) -> None:
        if self._run is None:
            reply.say.extend([self.phrase("not_in_routine"), *self._pending_prompt()])
            return
        self._run.pause(self.clock.now())
        reply.say.extend([self.phrase("paused"), *self._pending_prompt(routine=False)])

    def _resume(self, reply: _Reply) -> None:
        run = self._run
        if run is None:
            reply.say.extend([self.phrase("nothing_paused"), *self._pending_prompt()])
            return
        # "Resume" over a question asked mid-routine means the user has moved on from it.
        self._end_pending()
        reply.say.append(self.phrase("resumed"))
        if run.paused:
            run.resume(self.clock.now())
            run.answered = False
            self._last_said = tuple(self._instruction())
            reply.say.extend(self._last_said)
            reply.say.extend(self._due_say())

    def _repeat(self, reply: _Reply) -> None:
        if self._interview is not None or self._wanted is not None:
            reply.say.extend(self._pending_prompt())
        elif self._question is not None:
            ask = self._question.ask
            last = self._last_said
            reply.say.extend(last if last and last[-1] == ask else [ask])
        elif self._run is not None and not self._run.answered:
            reply.say.extend(self._instruction())
        elif self._last_said:
            reply.say.extend(self._last_said)
        else:
            reply.say.append(self.phrase("nothing_to_repeat"))

    def _next(self, reply: _Reply) -> None:
        run = self._run
        if run is None:
            reply.say.extend([self.phrase("not_in_routine"), *self._pending_prompt()])
            return
        self._end_pending()
        # Skip whatever is under way to the next step or side (or to the end).
        target = next(i for i in range(run.next_cue, len(run.cues)) if run.cues[i].segment or run.cues[i].final)
        now = self.clock.now()
        run.next_cue = target
        run.jump(run.cues[target].at, now)
        run.resume(now)
        run.answered = False
        reply.say.extend(self._due_say())

    def _time_left(self, reply: _Reply) -> None:
        run = self._run
        if run is None:
            reply.say.extend([self.phrase("not_in_routine"), *self._pending_prompt()])
            return
        phase = run.phase(run.elapsed(self.clock.now()))
        if phase is None:
            reply.say.append(self.phrase("time_left", seconds=0))
        elif phase.holding:
            reply.say.append(self.phrase("time_left", seconds=self._remaining(phase)))
        else:
            reply.say.append(self.phrase("next_in", seconds=self._remaining(phase)))
        reply.say.extend(self._pending_prompt(routine=False))

    def _help(self, reply: _Reply) -> None:
        reply.say.extend([self.pack.dialogue.help, *self._pending_prompt()])

    def _more_part(self, reply: _Reply) -> None:
        if not self._more:
            reply.say.extend([self.phrase("no_more"), *self._pending_prompt(routine=False)])
            return
        said = [self._more.pop(0), *self._pending_prompt(routine=False)]
        self._last_said = tuple(said)
        if self._run is not None:
            self._run.answered = True
        reply.say.extend(said)

    def _reask(self, reply: _Reply) -> None:
        """Something other than yes or no while a question is pending: ask it again, briefly."""
        reply.say.extend([self.phrase("yes_or_no"), *self._pending_prompt()])

    def _pending_prompt(self, routine: bool = True) -> list[str]:
        """What is pending, to say again after help, more or a command that does not apply."""
        if self._interview is not None:
            return [self._interview[1].ask]
        if self._question is not None:
            return [self._question.ask]
        if self._wanted is not None:
            return [self.phrase("which_stretch" if self._wanted.kind == "stretch" else "which_muscle")]
        if self._run is not None and routine:
            return [self.phrase("routine_help")]
        return []

    # ----- routines

    def _start_routine_for(self, muscle: str, kind: str, reply: _Reply) -> None:
        routine = self.pack.routine_for(muscle, kind)
        if routine is None:
            reply.say.append(self.phrase("no_routine", muscle=muscle))
        else:
            self._start_routine(routine, reply)

    def _start_routine(self, routine: StretchRoutine, reply: _Reply, checked: bool = False) -> None:
        """Start ``routine`` now, saying its intro and first step; a routine with a ``check`` asks
        that interview first, and its all-clear comes back here ``checked``."""
        if routine.check and not checked:
            self._start_interview(self.pack.triage[routine.check], reply)
            return
        cues, phases = _timeline(routine, self.phrase)
        self._run = _Run(routine, cues, phases, resumed_at=self.clock.now())
        reply.say.extend(self._due_say())
        reply.sources.extend(routine.sources)
        reply.new = True

    def talking(self, active: bool) -> None:
        """Tell the dialogue the assistant started (True) or finished (False) speaking a reply.

        A running routine's time stands still meanwhile, so a hold counts from the end of its
        instruction, not from when the instruction was handed to the voice.
        """
        if self._run is not None:
            self._run.hold(active, self.clock.now())

    def poll(self) -> list[Turn]:
        """Everything a running routine has to say by now, one turn per moment."""
        run = self._run
        if run is None or run.paused:
            return []
        elapsed = run.elapsed(self.clock.now())
        due = []
        while run.next_cue < len(run.cues) and run.cues[run.next_cue].at <= elapsed + _EPSILON:
            due.append(run.cues[run.next_cue])
            run.next_cue += 1
        # Progress news overtaken by a later cue is stale: drop it.
        due = [cue for n, cue in enumerate(due) if not cue.countdown or n == len(due) - 1]
        turns = []
        for at in sorted({cue.at for cue in due}):
            group = [cue for cue in due if cue.at == at]
            say = tuple(line for cue in group for line in cue.say)
            sources: tuple[str, ...] = ()
            if any(cue.final for cue in group):
                sources = run.routine.sources
                self._run = None
            if any(cue.segment for cue in group):
                self._last_said = say
            turns.append(Turn(say=say, state=self.state.value, expects=self.expects, sources=sources))
        return turns

    def _due_say(self) -> list[str]:
        """What the routine has due right now, as sentences for the turn being built."""
        return [line for turn in self.poll() for line in turn.say]

    def next_event_in(self) -> float | None:
        """Seconds until the routine has something to say; None when nothing is scheduled."""
        run = self._run
        if run is None or run.paused or run.next_cue >= len(run.cues):
            return None
        return max(0.0, run.cues[run.next_cue].at - run.elapsed(self.clock.now()))

    def advance(self, seconds: float | None = None) -> list[Turn]:
        """Sleep on the clock from event to event and return what the routine says, for ``seconds``
        or until nothing more is scheduled (routine over or paused). Instant with a ``FakeClock``."""
        end = None if seconds is None else self.clock.now() + seconds
        turns = self.poll()
        while (wait := self.next_event_in()) is not None:
            if end is not None and self.clock.now() + wait > end:
                break
            self.clock.sleep(wait)
            turns.extend(self.poll())
        if end is not None:
            self.clock.sleep(end - self.clock.now())
            turns.extend(self.poll())
        return turns

    def _instruction(self) -> list[str]:
        """The step under way and the time left on its hold, for "repeat" and "resume"."""
        run = self._run
        assert run is not None
        phase = run.phase(run.elapsed(self.clock.now()))
        step = phase.step if phase is not None else run.cues[max(0, run.next_cue - 1)].step
        say = [run.routine.steps[step].say]
        if phase is not None and phase.holding:
            say.append(self.phrase("time_left", seconds=self._remaining(phase)))
        return say

    def _remaining(self, phase: _Phase) -> int:
        """Whole seconds left in ``phase``, rounded up the way a countdown is."""
        assert self._run is not None
        return max(1, math.ceil(phase.end - self._run.elapsed(self.clock.now()) - _EPSILON))

    # ----- bookkeeping

    def _end_pending(self) -> None:
        """Drop any pending question, interview or muscle choice (a routine underneath stays paused)."""
        self._question = None
        self._interview = None
        self._wanted = None

    def _end_all(self) -> None:
        """End everything that was going on."""
        self._end_pending()
        self._run = None

    def _turn(self, reply: _Reply, match: Match) -> Turn:
        """The turn for ``match``, in the state we ended up in."""
        say = [line for line in reply.say if line]
        if reply.new and self._run is not None and self.state is State.PAUSED:
            self._run.answered = True
            say.append(self.phrase("say_resume", title=self._run.routine.title))
        if reply.new and say:
            self._last_said = tuple(say)
        return Turn(
            say=tuple(say),
            state=self.state.value,
            expects=self.expects,
            intent=match.intent if match.intent in self.pack.behaviours else None,
            slots=dict(match.slots),
            disposition=reply.disposition,
            sources=tuple(dict.fromkeys(reply.sources)),
        )


def _phrase(pack: Pack, key: str, **values: Any) -> str:
    text = pack.dialogue.phrases.get(key) or DEFAULT_PHRASES[key]
    return text.format(**values)


def phrases_said(pack: Pack) -> list[str]:
    """Every phrase of the dialogue's own that this pack can make it say, each once, with each blank
    filled by every value the pack allows, so the voice can make them all ahead.

    That is the fixed phrases; what each routine's timeline says (holds, countdowns, sides, rests,
    intros, steps and outros); how long is left, for every whole second a hold or rest of the pack can
    have left; "say resume" with each routine's title; "did you mean" with each topic's spoken name. A
    blank only the user's words fill (a muscle the pack has no routine for) is left out.
    """
    said: dict[str, None] = {}

    def add(*texts: str) -> None:
        said.update(dict.fromkeys(text for text in texts if text.strip()))

    def phrase(key: str, **values: Any) -> str:
        return _phrase(pack, key, **values)

    settings = pack.dialogue
    add(settings.help, settings.not_understood.format(closest=""))
    for key in DEFAULT_PHRASES:
        with contextlib.suppress(KeyError, IndexError):  # a blank, filled below where the pack knows it
            add(phrase(key))
    for name in settings.topic_names.values():
        add(settings.not_understood.format(closest=name), settings.did_you_mean.format(closest=name))
    for routine in pack.routines.values():
        cues, phases = _timeline(routine, phrase)
        add(*(line for cue in cues for line in cue.say), phrase("say_resume", title=routine.title))
        for span in phases:
            key = "time_left" if span.holding else "next_in"
            add(*(phrase(key, seconds=left) for left in range(1, math.ceil(span.end - span.start) + 1)))
    if pack.routines:
        add(phrase("time_left", seconds=0))  # asked between a routine's last hold and its outro
    return list(said)


def _check_references(pack: Pack) -> None:
    """Fail at start, not mid-conversation, when the pack points at something it lacks."""
    problems = dangling_references(pack)
    if problems:
        raise BadInput("; ".join(str(problem) for problem in problems))
