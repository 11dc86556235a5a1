"""A failure that repeats every few seconds (a store that cannot be reached, polled), logged
so that the log says it once in full, then once a minute, then when it is over."""

from __future__ import annotations

import logging
import time

#: Seconds between two reports of a failure that goes on.
REPORT_EVERY = 60.0


class RepeatedFailure:
    """Reports the failures of one recurring task (``doing``: "write the heartbeat")."""

    def __init__(self, log: logging.Logger, doing: str, recovered: str) -> None:
        self.log = log
        self.doing = doing
        self.recovered = recovered
        self.since: float | None = None
        self._last_report = 0.0

    def failed(self, error: Exception) -> None:
        """The task failed (again): in full the first time, then once a minute."""
        now = time.monotonic()
        if self.since is None:
            self.since = self._last_report = now
            self.log.error("Could not %s", self.doing, exc_info=error)
        elif now - self._last_report >= REPORT_EVERY:
            self._last_report = now
            self.log.error("Still cannot %s (for %d s): %s", self.doing, now - self.since, error)

    def succeeded(self) -> None:
        """The task worked: say so if it had been failing."""
        if self.since is not None:
            self.log.info(self.recovered)
            self.since = None
