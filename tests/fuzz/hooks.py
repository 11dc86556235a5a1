"""schemathesis hooks (``hooks`` in schemathesis.toml): what a 5xx must say."""

from __future__ import annotations

import json
from typing import Any

import schemathesis

#: The reasons of the service's deliberate 5xx answers on the run route: the script raised
#: (502) or ran past its timeout (504). "internal-error" is always a bug.
DELIBERATE = {502: {"script-error"}, 504: {"timeout"}}


@schemathesis.check
def deliberate_server_errors_only(ctx: Any, response: Any, case: Any) -> None:
    """A 5xx is one of the service's deliberate answers, with its JSON error document."""
    if response.status_code < 500:
        return
    try:
        error = json.loads(response.content)
    except ValueError:
        raise AssertionError(f"{response.status_code} without a JSON error document") from None
    reason = error.get("reason") if isinstance(error, dict) else None
    if reason not in DELIBERATE.get(response.status_code, set()):
        raise AssertionError(
            f"{response.status_code} {reason!r} is not one of the service's deliberate answers: "
            f"{error.get('message') if isinstance(error, dict) else error!r}"
        )
