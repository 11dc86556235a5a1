"""What a script must never see of the server's credentials, in one place: the request
headers and query arguments that carry them (the run's request), and the environment
variables (the kernel's and the zygote's environment).

A value is a credential when it holds one of the server's secrets (its token, the Hub's
token, ...) or anything shaped like an API key; a header, an argument or a variable is one
by its name too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from .rules import API_KEY_LIKE

#: Request headers that carry credentials.
CREDENTIAL_HEADERS = frozenset(
    {"authorization", "cookie", "proxy-authorization", "x-xsrftoken", "x-csrftoken"}
)
#: Query arguments that carry credentials.
CREDENTIAL_ARGUMENTS = frozenset({"token", "_xsrf"})
#: Environment variables whose names say they hold credentials of the server or of
#: JupyterHub (``ScriptingApp.kernel_env_denylist``'s default; the zygote never gets
#: them whatever the setting).
DEFAULT_ENV_DENYLIST = r"(?i)(TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|API_?KEY|COOKIE|AUTH)"
CREDENTIAL_NAMES = re.compile(DEFAULT_ENV_DENYLIST)


def holds_credential(value: str, secrets: Sequence[str]) -> bool:
    """Whether ``value`` contains one of ``secrets`` or something like an API key."""
    return any(s and s in value for s in secrets) or API_KEY_LIKE.search(value) is not None


def scrub_headers(
    headers: Iterable[tuple[str, str]], secrets: Sequence[str]
) -> list[tuple[str, str]]:
    """The request headers without credentials (by name or by value)."""
    return [
        (name, value)
        for name, value in headers
        if name.lower() not in CREDENTIAL_HEADERS and not holds_credential(value, secrets)
    ]


def scrub_query(
    arguments: Mapping[str, Sequence[bytes]], secrets: Sequence[str]
) -> dict[str, list[str]]:
    """The query arguments (decoded) without credentials: an argument named for one, or
    any of whose values holds one, is left out whole."""
    return {
        name: decoded
        for name, values in arguments.items()
        if name not in CREDENTIAL_ARGUMENTS
        and (decoded := [v.decode("utf-8", "replace") for v in values])
        and not any(holds_credential(v, secrets) for v in decoded)
    }


def scrub_environment(
    environ: Mapping[str, str], secrets: Sequence[str], denylist: str = DEFAULT_ENV_DENYLIST
) -> dict[str, str]:
    """The environment without the variables ``denylist`` names, nor any whose value
    holds one of ``secrets``."""
    deny = re.compile(denylist)
    return {
        name: value
        for name, value in environ.items()
        if not deny.search(name) and not any(s and s in value for s in secrets)
    }
