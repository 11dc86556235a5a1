"""Which server the client commands talk to: ``--url``/``--token``, the environment, or
the one running Jupyter server of this user (as ``jupyter server list`` finds it).

Only the standard library (jupyter_core only when there is no runtime directory to look
in), so that the client commands start fast.
"""

from __future__ import annotations

import glob
import json
import os
import urllib.parse
from dataclasses import dataclass
from typing import Any

from .errors import ServerUnreachable, UsageError

URL_ENV = "JUPYTER_SCRIPTING_URL"
TOKEN_ENV = "JUPYTER_SCRIPTING_TOKEN"
#: jupyter_server's own variable for its token, the last resort for ``--token``.
JUPYTER_TOKEN_ENV = "JUPYTER_TOKEN"


@dataclass
class ServerChoice:
    """The server to talk to, and where that choice came from (for messages)."""

    url: str
    token: str | None
    source: str


def normalise_url(url: str, where: str) -> tuple[str, str | None]:
    """The base URL without trailing slash nor query, and a ``?token=`` it carried (the
    URL Jupyter prints, ``…/lab?token=…``, gives its base URL and its token)."""
    parsed = urllib.parse.urlsplit(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise UsageError(
            f"{where}: {url!r} is not an http:// or https:// URL (e.g. http://127.0.0.1:8888)."
        )
    token = urllib.parse.parse_qs(parsed.query).get("token", [None])[0]
    path = parsed.path.rstrip("/")
    if token is not None:
        # What Jupyter prints to open it (…/lab?token=…, …/tree?token=…): its base URL.
        for page in ("/lab", "/tree"):
            path = path.removesuffix(page)
    base = urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, path, "", ""))
    return base, token


def running_servers(runtime_dir: str | None = None) -> list[dict[str, Any]]:
    """The Jupyter servers of this user that are running (``jpserver-*.json`` files of the
    runtime directory whose process is alive), as ``jupyter server list`` finds them."""
    if runtime_dir is None:
        runtime_dir = os.environ.get("JUPYTER_RUNTIME_DIR")
    if not runtime_dir:
        from jupyter_core.paths import jupyter_runtime_dir

        runtime_dir = jupyter_runtime_dir()
    servers = []
    for path in sorted(glob.glob(os.path.join(runtime_dir, "jpserver-*.json"))):
        try:
            with open(path, encoding="utf-8") as file:
                info = json.load(file)
        except (OSError, ValueError):
            continue
        if not isinstance(info, dict) or not isinstance(info.get("url"), str):
            continue
        if not _alive(info.get("pid")):
            continue  # left behind by a server that crashed
        servers.append(info)
    return servers


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def choose_server(url: str | None, token: str | None) -> ServerChoice:
    """``--url``/``--token``, else ``JUPYTER_SCRIPTING_URL``/``JUPYTER_SCRIPTING_TOKEN``,
    else the one running Jupyter server of this user (its URL and token)."""
    env_url = os.environ.get(URL_ENV) or None
    env_token = os.environ.get(TOKEN_ENV) or os.environ.get(JUPYTER_TOKEN_ENV) or None
    given = (url, "--url") if url is not None else (env_url, URL_ENV)
    if given[0] is not None:
        base, url_token = normalise_url(given[0], given[1])
        chosen = token or url_token or env_token
        if chosen is None:
            # A server of this user at that URL (e.g. `make run`'s): its token.
            chosen = next((str(s.get("token") or "") or None for s in _servers_at(base)), None)
        return ServerChoice(base, chosen, given[1])
    servers = [s for s in running_servers() if str(s["url"]).startswith(("http://", "https://"))]
    if len(servers) == 1:
        base, url_token = normalise_url(str(servers[0]["url"]), "the running server's URL")
        found = servers[0].get("token") or url_token or None
        return ServerChoice(base, token or env_token or found, "the running Jupyter server")
    if not servers:
        raise ServerUnreachable(
            f"No server given and no running Jupyter server found: give one with --url URL "
            f"(or {URL_ENV}), and --token TOKEN (or {TOKEN_ENV})."
        )
    urls = ", ".join(str(s["url"]) for s in servers)
    raise UsageError(
        f"No server given and {len(servers)} Jupyter servers are running ({urls}): "
        f"choose one with --url URL (or {URL_ENV})."
    )


def _servers_at(base: str) -> list[dict[str, Any]]:
    try:
        servers = running_servers()
    except Exception:  # no runtime directory to look in: nothing found
        return []
    return [
        s
        for s in servers
        if str(s["url"]).startswith(("http://", "https://"))
        and normalise_url(str(s["url"]), "a server's URL")[0] == base
    ]
