"""A tenant's variables and secrets (README, "Variables and secrets"): their names and
values as the API takes them, the names a script asks for, and the masking that keeps a
secret's value out of everything a run leaves behind.

A run gets the variables its script names (``PATCH {"variables": [...]}``), and only
those: as ``secrets["NAME"]`` in the kernel and as environment variables of the kernel's
process (so the script's subprocesses see them too). Every value is encrypted at rest
with the operator's key (:mod:`.crypto`); a secret's value is never shown by the API,
and wherever a run's output goes (its answer, its log, its executed notebook, its live
events, its error document) each secret's value is replaced by ``***``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import BadRequest

#: What a variable's name may be: an environment variable's name.
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
#: The most bytes (UTF-8) of one value.
MAX_VALUE_BYTES = 64 * 1024
#: The fewest characters of a secret: a shorter one could not be masked in outputs
#: without masking ordinary text with it.
MIN_SECRET_LENGTH = 4
#: The most variables one script may ask for.
MAX_PER_SCRIPT = 50
#: What a secret's value reads as in outputs.
MASK = "***"


def variable_name(value: object) -> str:
    """A variable's name as given in a URL or a script's list (400 otherwise)."""
    if not isinstance(value, str) or NAME.fullmatch(value) is None:
        shown = f"{value!r} is" if isinstance(value, str) and len(value) <= 140 else "That is"
        raise BadRequest(
            f"{shown} not a variable name: letters, digits and underscores, not starting "
            "with a digit, at most 128 characters."
        )
    return value


@dataclass(frozen=True)
class VariableValue:
    """A variable as a PUT gives it (the value in plain text, not yet encrypted)."""

    value: str
    secret: bool


def parse_value(body: object) -> VariableValue:
    """A PUT body ``{"value": "…", "secret": true}`` (``secret`` defaults to true)."""
    if not isinstance(body, dict):
        raise BadRequest('PUT takes a JSON object: {"value": "…", "secret": true}.')
    unknown = sorted(set(body) - {"value", "secret"})
    if unknown:
        raise BadRequest(f"Unknown fields: {', '.join(unknown)} (a variable has value, secret).")
    value, secret = body.get("value"), body.get("secret", True)
    if not isinstance(value, str):
        raise BadRequest('"value" must be a string.')
    if not isinstance(secret, bool):
        raise BadRequest('"secret" must be true or false.')
    if "\x00" in value:
        raise BadRequest("A value cannot hold NUL characters (environment variables cannot).")
    if len(value.encode("utf-8", "surrogatepass")) > MAX_VALUE_BYTES:
        raise BadRequest(f"A value may have at most {MAX_VALUE_BYTES} bytes (UTF-8).")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest("The value is not valid Unicode (lone surrogates).") from None
    if secret and len(value) < MIN_SECRET_LENGTH:
        raise BadRequest(
            f"A secret needs at least {MIN_SECRET_LENGTH} characters (a shorter one "
            'could not be masked in outputs); store it with "secret": false.'
        )
    return VariableValue(value, secret)


def script_variables(value: object) -> tuple[str, ...]:
    """The names a script asks for, from a PATCH (``null``: none), in the order given."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise BadRequest('"variables" must be a list of variable names, or null.')
    if len(value) > MAX_PER_SCRIPT:
        raise BadRequest(f"A script may ask for at most {MAX_PER_SCRIPT} variables.")
    names = [variable_name(name) for name in value]
    return tuple(dict.fromkeys(names))


def names_from_json(text: str | None) -> tuple[str, ...]:
    """A script's stored list of names (JSON; None: none)."""
    return tuple(json.loads(text)) if text else ()


@dataclass(frozen=True)
class RunVariables:
    """What one run gets: the values of the variables its script asks for (plain and
    secret alike), the names it asks for that the tenant has not set, and a masker of
    the secrets' values."""

    values: dict[str, str]
    missing: tuple[str, ...]
    masker: Masker


T = TypeVar("T")


class Masker:
    """Replaces each secret's value by :data:`MASK` in text, bytes and JSON-like trees:
    as it is written, and as JSON or ``repr`` would escape it (an error's message, an
    answer built with ``json.dumps``). A value the script transforms (encodes, reverses)
    is its author's choice, not masked."""

    def __init__(self, secrets: Iterable[str]) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if not secret:
                continue
            forms.add(secret)
            forms.add(json.dumps(secret)[1:-1])
            forms.add(json.dumps(secret, ensure_ascii=False)[1:-1])
            forms.add(repr(secret)[1:-1])
        # Longest first, so a secret inside another is not masked half.
        self._forms = sorted((f for f in forms if f), key=len, reverse=True)
        self._bytes = sorted(
            {f.encode("utf-8", "surrogatepass") for f in self._forms}, key=len, reverse=True
        )

    def __bool__(self) -> bool:
        return bool(self._forms)

    def text(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return text

    def data(self, data: bytes) -> bytes:
        for form in self._bytes:
            if form in data:
                data = data.replace(form, MASK.encode())
        return data

    def tree(self, value: T) -> T:
        """``value`` with every string in it masked (dicts and lists in place)."""
        if not self._forms:
            return value
        return self._tree(value)  # type: ignore[no-any-return]

    def _tree(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            for key, item in value.items():
                value[key] = self._tree(item)
            return value
        if isinstance(value, list):
            for index, item in enumerate(value):
                value[index] = self._tree(item)
            return value
        return value
