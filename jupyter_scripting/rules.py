"""The domain's rules, each in one place: what an id, a name, a timeout, a role, a page
and an API key are.

Every layer imports these: the HTTP service checks a request with them, the store checks
again what it is asked to write (it never trusts its caller), the CLI checks its options
with them. A rule changed here changes everywhere. Each check raises ``BadRequest`` with
the message the caller sees, or answers a plain ``bool`` where a miss is not an error
(an id that is not one is simply not found).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
import uuid
from typing import Literal, cast, get_args

from .errors import BadRequest

#: A script's, a tenant's or a user's name: at most this many characters.
MAX_NAME_LENGTH = 255
#: Unicode categories no name may contain: controls, formats, surrogates, private use,
#: unassigned, line and paragraph separators.
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})

#: What an API key lets its holder do in its tenant (the README's "Keys and roles").
Role = Literal["admin", "developer", "runner"]
ROLES: tuple[Role, ...] = get_args(Role)

#: ``jsk_<id>_<secret>``: the id is 16 lowercase hex digits (``secrets.token_hex(8)``),
#: the secret ``secrets.token_urlsafe(32)`` (which may itself contain ``_``).
API_KEY_PREFIX = "jsk_"
_API_KEY_ID = re.compile(r"[0-9a-f]{16}")
_API_KEY = re.compile(r"jsk_([0-9a-f]{16})_([A-Za-z0-9_-]+)")
_API_KEY_MAX_LENGTH = 200
#: Anything that looks like an API key, anywhere in a text (to keep keys out of what a
#: script sees).
API_KEY_LIKE = re.compile(r"jsk_[0-9a-f]{16}_")


def is_uuid(value: object) -> bool:
    """Whether ``value`` is a UUID in its canonical lowercase, hyphenated form (the only
    ids the service makes; anything else names nothing)."""
    if not isinstance(value, str):
        return False
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def has_control_characters(value: str) -> bool:
    """Whether ``value`` holds a character no name may hold (see ``_CONTROL_CATEGORIES``)."""
    return any(unicodedata.category(c) in _CONTROL_CATEGORIES for c in value)


def script_name(name: object) -> str:
    """A script's name, stripped: a non-blank string of at most 255 characters, with no
    control characters."""
    if not isinstance(name, str) or not name.strip():
        raise BadRequest("A script needs a name: a non-empty string.")
    if len(name) > MAX_NAME_LENGTH or has_control_characters(name):
        raise BadRequest(
            f"A script name must be at most {MAX_NAME_LENGTH} characters, "
            "with no control characters."
        )
    return name.strip()


def label(what: str, value: object) -> str:
    """A tenant's or user's name (``what`` says which): 1 to 255 characters, none of them
    control characters. Kept exactly as given (it is an identifier)."""
    if not isinstance(value, str) or not value:
        raise BadRequest(f'"{what}" must be a non-empty string.')
    if len(value) > MAX_NAME_LENGTH:
        raise BadRequest(f'"{what}" is too long (at most {MAX_NAME_LENGTH} characters).')
    if has_control_characters(value):
        raise BadRequest(f'"{what}" must not contain control characters.')
    return value


def timeout(value: object) -> float | None:
    """A script's own timeout: a positive number of seconds, or None (the service's)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise BadRequest('"timeout" must be a positive number of seconds, or null.')
    return float(value)


#: A script's parameters settings (README, "Parameters"); None: by the notebook.
PARAMETERS_MODES = ("strict", "lenient", "off")


def parameters_mode(value: object) -> str | None:
    """A script's parameters setting: "strict", "lenient", "off", or None (by notebook)."""
    if value is None or value in PARAMETERS_MODES:
        return value
    raise BadRequest('"parameters" must be "strict", "lenient", "off" or null.')


def role(value: object) -> Role:
    """One of ``ROLES``."""
    for known in ROLES:
        if value == known:
            return known
    raise BadRequest(f'"role" must be one of {", ".join(ROLES)} (got {value!r}).')


#: A listing's page: this many entries unless asked, at most ``MAX_PAGE``.
DEFAULT_PAGE = 100
MAX_PAGE = 1000


def page(limit: object, offset: object) -> tuple[int, int]:
    """A page of a listing: ``limit`` and ``offset``, non-negative integers."""
    for what, value in (("limit", limit), ("offset", offset)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise BadRequest(f"{what} must be a non-negative integer.")
    return cast(int, limit), cast(int, offset)


def new_api_key() -> tuple[str, str, str]:
    """``(id, secret, key)`` of a new API key; the key is what its holder sends."""
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    return key_id, secret, f"{API_KEY_PREFIX}{key_id}_{secret}"


def parse_api_key(key: object) -> tuple[str, str] | None:
    """``(id, secret)`` of a well-formed ``jsk_<id>_<secret>`` key, else None (never raises).

    The id is 16 lowercase hex digits, the secret a non-empty URL-safe base64 text; the
    whole key is at most 200 characters, with no whitespace or anything else around it.
    """
    if not isinstance(key, str) or len(key) > _API_KEY_MAX_LENGTH:
        return None
    match = _API_KEY.fullmatch(key)
    if match is None:
        return None
    return match.group(1), match.group(2)


def is_api_key_id(value: object) -> bool:
    """Whether ``value`` is the public id of an API key (16 lowercase hex digits)."""
    return isinstance(value, str) and _API_KEY_ID.fullmatch(value) is not None


def hash_secret(secret: str) -> str:
    """What the store keeps of a key's secret. Keys are long random values (256 bits): a
    fast hash is enough, no salt or KDF."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
