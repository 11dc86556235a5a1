"""The progress display of ``run --background --wait``, on stderr.

On a terminal one line is redrawn in place (a spinner, the run's state, the time
elapsed); elsewhere (a pipe, a CI log) a plain line is written when the state changes and
every ``plain_interval`` seconds, so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

_SPINNER = "|/-\\"


def format_seconds(seconds: float) -> str:
    """``0.4 s``, ``12 s``, ``3 min 05 s``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s"


class Progress:
    """Shows that a background run is being followed: state and elapsed time."""

    def __init__(
        self,
        execution_id: str,
        stream: TextIO | None = None,
        tty: bool | None = None,
        plain_interval: float = 10.0,
    ) -> None:
        self.execution_id = execution_id
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.plain_interval = plain_interval
        self.started = time.monotonic()
        self._frame = 0
        self._state: str | None = None
        self._last_plain = 0.0
        self._drawn = False

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def update(self, state: str) -> None:
        """Show the run's current state (call it often: it redraws the spinner)."""
        elapsed = self.elapsed
        if self.tty:
            spinner = _SPINNER[self._frame % len(_SPINNER)]
            self._frame += 1
            line = f"{spinner} {state} · {format_seconds(elapsed)} · execution {self.execution_id}"
            self.stream.write(f"\r\x1b[K{line}")
            self.stream.flush()
            self._drawn = True
        elif state != self._state or elapsed - self._last_plain >= self.plain_interval:
            self.stream.write(
                f"Execution {self.execution_id}: {state} ({format_seconds(elapsed)})\n"
            )
            self.stream.flush()
            self._last_plain = elapsed
        self._state = state

    def finish(self, message: str) -> None:
        """Replace the progress line by a last one (``message``, with the time it took)."""
        self.clear()
        self.stream.write(f"Execution {self.execution_id}: {message} after {self.elapsed_text}\n")
        self.stream.flush()

    @property
    def elapsed_text(self) -> str:
        return format_seconds(self.elapsed)

    def clear(self) -> None:
        """Erase the redrawn line (on a terminal), so that what follows starts clean."""
        if self.tty and self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False
