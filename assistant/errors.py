"""The one exception type the project raises for things a user can fix."""

from __future__ import annotations

MAX_MESSAGE_CHARS = 1000
"""Longer messages are cut here."""


class AssistantError(Exception):
    """A problem with input, configuration or the environment, explained in one line.

    The command line prints ``message`` on stderr and exits with ``exit_code``:
    2 for bad input (a malformed pack, an unreadable file, a bad argument), 1 for
    everything else (a missing model, a failed device).
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        # One line, and short: a message may quote input, and input can be huge or span lines.
        message = " ".join(message.split())
        if len(message) > MAX_MESSAGE_CHARS:
            message = message[: MAX_MESSAGE_CHARS - 3] + "..."
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class BadInput(AssistantError):
    """Input the user gave us is unusable (exit status 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, exit_code=2)
