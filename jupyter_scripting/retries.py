"""Retries of background runs (README, "Retries"): a script's setting, and the plan of
the next attempt after a failed one.

``PATCH {"retries": {"max": 3, "on": [500, 502, 504], "backoff": 30}}``: a background run
of the script that ends with one of the statuses in ``on`` (the service's own 5xx — a
timeout, a crash, a memory limit — or the script's answer with that status) is queued
again, up to ``max`` more times, each attempt ``backoff`` seconds after the previous one
ended, doubled each time. Each attempt is an execution of its own in the log, linked to
the first (``retryOf``) and to the next (``retriedBy``).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from .errors import BadRequest

#: The most retries a script may ask for.
MAX_RETRIES = 10
#: The longest back-off (seconds) before a first retry.
MAX_BACKOFF = 24 * 3600.0
#: The longest wait between two attempts, however often it was doubled.
MAX_WAIT = 24 * 3600.0
#: What ``on`` is when not given: the service's failures a new kernel may not repeat.
DEFAULT_ON = (500, 502, 504)
#: What ``backoff`` is when not given (seconds).
DEFAULT_BACKOFF = 30.0


@dataclass(frozen=True)
class RetrySpec:
    """A script's retries: at most ``max`` more attempts after a status in ``on``."""

    max: int
    on: tuple[int, ...] = DEFAULT_ON
    backoff: float = DEFAULT_BACKOFF

    def to_json(self) -> str:
        return json.dumps({"max": self.max, "on": list(self.on), "backoff": self.backoff})

    @classmethod
    def from_json(cls, text: str | None) -> RetrySpec | None:
        if not text:
            return None
        data = json.loads(text)
        return cls(int(data["max"]), tuple(data["on"]), float(data["backoff"]))

    def model(self) -> dict[str, Any]:
        return {"max": self.max, "on": list(self.on), "backoff": self.backoff}

    def wait(self, attempt: int) -> float:
        """Seconds between the end of ``attempt`` (1, 2, …) and the next one."""
        return float(min(self.backoff * 2 ** (attempt - 1), MAX_WAIT))

    def next_attempt(
        self, attempt: int, status: int | None, ended: dt.datetime
    ) -> dt.datetime | None:
        """When the attempt after ``attempt`` (ended ``ended`` with ``status``) is due;
        None when there is none (the status is not retried, or no retry is left)."""
        if status is None or status not in self.on or attempt > self.max:
            return None
        return ended + dt.timedelta(seconds=self.wait(attempt))


def parse_retries(value: object) -> RetrySpec | None:
    """A PATCH's ``retries`` (``null``: none)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRequest(
            '"retries" must be {"max": N, "on": [statuses], "backoff": seconds} or null.'
        )
    unknown = sorted(set(value) - {"max", "on", "backoff"})
    if unknown:
        raise BadRequest(f"Unknown retries fields: {', '.join(unknown)} (max, on, backoff).")
    count = _whole(value.get("max"))
    if count is None or not 1 <= count <= MAX_RETRIES:
        raise BadRequest(f'"max" must be a whole number from 1 to {MAX_RETRIES}.')
    given = value.get("on", list(DEFAULT_ON))
    on = [_whole(s) for s in given] if isinstance(given, list) else []
    if not on or any(s is None or not 400 <= s <= 599 for s in on):
        raise BadRequest('"on" must be a non-empty list of statuses from 400 to 599.')
    backoff = value.get("backoff", DEFAULT_BACKOFF)
    if (
        isinstance(backoff, bool)
        or not isinstance(backoff, int | float)
        or not 0 <= backoff <= MAX_BACKOFF
    ):
        raise BadRequest(f'"backoff" must be a number of seconds from 0 to {MAX_BACKOFF:g}.')
    return RetrySpec(count, tuple(sorted({s for s in on if s is not None})), float(backoff))


def _whole(value: object) -> int | None:
    """A whole number as JSON gives it (``3`` or ``3.0``), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None
