"""The typed client of the ``/scripting`` HTTP API (the README's "HTTP API"), on :class:`Client`.

Its methods answer the API's JSON models (:mod:`.models`, mirroring the server's); a
run's answer and a log's content stay an :class:`Answer` (the script's body, byte for
byte, with its status and headers). A 4xx/5xx answer raises :class:`ServerError`, with a
hint of what to do about it. Only the standard library: the client commands and
``examples/run_demo.py`` use it.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from ..rules import MAX_PAGE, is_uuid
from .client import Answer, Client, ServerError
from .errors import CommandError
from .models import (
    CreatedKeyModel,
    ExecutionList,
    ExecutionModel,
    KeyModel,
    ScriptList,
    ScriptListItem,
    ScriptModel,
)

#: What to do after a 404 of a script's route.
SEE_SCRIPTS = "See `jupyter scripting list`."
#: What to do after a 404 of an execution's route.
SEE_LOGS = "See `jupyter scripting logs ID`."
#: What to do after a 404 of a schedule's route.
SEE_SCHEDULES = "See `jupyter scripting schedule list ID`."
#: What to do after a 404 of a variable's route.
SEE_VARIABLES = "See `jupyter scripting secret list`."


@dataclass(frozen=True)
class Published:
    """What :meth:`ScriptingAPI.publish` did: the script, and whether it is a new one."""

    script: ScriptModel
    created: bool


@dataclass(frozen=True)
class Queued:
    """A background run the server accepted (202): its id and its log's absolute URL."""

    execution_id: str
    location: str


@dataclass(frozen=True)
class RunRequest:
    """What a run sends the script; ``method`` defaults to POST with a body, else GET."""

    method: str | None = None
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Sequence[tuple[str, str]] = ()

    @property
    def http_method(self) -> str:
        return self.method or ("POST" if self.body is not None else "GET")


def metadata_script_id(notebook: Mapping[str, Any]) -> str | None:
    """The script id JupyterLab's Publish saved in the notebook
    (``metadata.jupyter_scripting.scriptId``), if it is one."""
    metadata = notebook.get("metadata")
    ours = metadata.get("jupyter_scripting") if isinstance(metadata, dict) else None
    script_id = ours.get("scriptId") if isinstance(ours, dict) else None
    return script_id if is_uuid(script_id) else None


class ScriptingAPI:
    """The API's calls, each answering its model (``ServerError`` for a 4xx/5xx)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    @property
    def url(self) -> str:
        """The server's base URL."""
        return self.client.url

    def run_url(self, script_id: str) -> str:
        """The URL that runs the script synchronously."""
        return self.client.endpoint("scripting", "script", script_id, "run")

    # -- scripts ----------------------------------------------------------------------------
    def scripts(self, *, limit: int = 100, offset: int = 0) -> ScriptList:
        """One page of the tenant's scripts, most recently updated first."""
        query = [("limit", str(limit)), ("offset", str(offset))]
        return cast(ScriptList, self.client.call("GET", "scripting", "script", query=query).json())

    def list_scripts(self, page_size: int = MAX_PAGE) -> list[ScriptListItem]:
        """Every script of the tenant, following ``moreElements`` page after page."""
        scripts: list[ScriptListItem] = []
        while True:
            page = self.scripts(limit=page_size, offset=len(scripts))
            scripts += page["scripts"]
            if not page.get("moreElements") or not page["scripts"]:
                return scripts

    def find_script(self, script_id: str) -> ScriptModel | None:
        """The script, or None if the tenant has no such script."""
        answer = self.client.request("GET", "scripting", "script", script_id)
        if answer.status == 404:
            return None
        if answer.status != 200:
            raise ServerError(answer, self.client.hint(answer))
        return cast(ScriptModel, answer.json())

    def script(self, script_id: str) -> ScriptModel:
        """The script (its latest version's settings)."""
        answer = self.client.call("GET", "scripting", "script", script_id, hint_404=SEE_SCRIPTS)
        return cast(ScriptModel, answer.json())

    def schema(self, script_id: str) -> dict[str, Any]:
        """The JSON Schema of the latest version's parameters (README, "Parameters")."""
        path = ["scripting", "script", script_id, "schema"]
        return cast(dict[str, Any], self.client.call("GET", *path, hint_404=SEE_SCRIPTS).json())

    def script_openapi(self, script_id: str) -> dict[str, Any]:
        """The script's own OpenAPI document, to generate a client for it."""
        path = ["scripting", "script", script_id, "openapi.json"]
        return cast(dict[str, Any], self.client.call("GET", *path, hint_404=SEE_SCRIPTS).json())

    def create_script(self, name: str, notebook: Mapping[str, Any]) -> ScriptModel:
        """A new script named ``name``, version 1."""
        payload = {"name": name, "notebook": notebook}
        return cast(
            ScriptModel, self.client.call("POST", "scripting", "script", payload=payload).json()
        )

    def update_script(
        self, script_id: str, notebook: Mapping[str, Any], *, name: str | None = None
    ) -> ScriptModel:
        """A new version of the script (renamed if ``name`` is given)."""
        payload: dict[str, Any] = {"notebook": notebook}
        if name is not None:
            payload["name"] = name
        answer = self.client.call(
            "PUT", "scripting", "script", script_id, payload=payload, hint_404=SEE_SCRIPTS
        )
        return cast(ScriptModel, answer.json())

    def publish(
        self,
        notebook: Mapping[str, Any],
        name: str,
        *,
        script_id: str | None = None,
        rename: bool = False,
    ) -> Published:
        """Publish ``notebook`` as ``jupyter scripting publish`` does.

        It goes to ``script_id`` if given; else to the script whose id JupyterLab saved in
        the notebook's metadata, if that still exists; else to the tenant's one script named
        ``name``; else to a new script named ``name``. A new version keeps the script's
        name unless ``rename``.
        """
        target = script_id
        from_metadata = metadata_script_id(notebook) if target is None else None
        # Not found: published on another server, or deleted since.
        if from_metadata is not None and self.find_script(from_metadata) is not None:
            target = from_metadata
        if target is None:
            same = [s for s in self.list_scripts() if s["name"] == name]
            if len(same) > 1:
                ids = ", ".join(s["scriptId"] for s in same)
                raise CommandError(
                    f"{len(same)} scripts are named {name!r} ({ids}): choose one with --id, "
                    "or give another --name."
                )
            if same:
                target = same[0]["scriptId"]
        if target is None:
            return Published(self.create_script(name, notebook), created=True)
        script = self.update_script(target, notebook, name=name if rename else None)
        return Published(script, created=False)

    # -- schedules --------------------------------------------------------------------------
    def schedules(self, script_id: str) -> list[dict[str, Any]]:
        """The script's schedules, oldest first."""
        path = ["scripting", "script", script_id, "schedule"]
        data = self.client.call("GET", *path, hint_404=SEE_SCRIPTS).json()
        return cast(list[dict[str, Any]], data["schedules"])

    def create_schedule(self, script_id: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """A new schedule of the script (``payload``: cron, timezone, body, …)."""
        path = ["scripting", "script", script_id, "schedule"]
        answer = self.client.call("POST", *path, payload=payload, hint_404=SEE_SCRIPTS)
        return cast(dict[str, Any], answer.json())

    def update_schedule(
        self, script_id: str, schedule_id: str, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Change a schedule's settings."""
        path = ["scripting", "script", script_id, "schedule", schedule_id]
        answer = self.client.call("PATCH", *path, payload=payload, hint_404=SEE_SCHEDULES)
        return cast(dict[str, Any], answer.json())

    def delete_schedule(self, script_id: str, schedule_id: str) -> None:
        path = ["scripting", "script", script_id, "schedule", schedule_id]
        self.client.call("DELETE", *path, hint_404=SEE_SCHEDULES)

    # -- webhooks ---------------------------------------------------------------------------
    def set_webhook(self, script_id: str, webhook: Mapping[str, Any] | None) -> dict[str, Any]:
        """Set (or with None remove) the script's webhook: the script, with
        ``signingSecret`` when this made the tenant's first one."""
        path = ["scripting", "script", script_id]
        answer = self.client.call(
            "PATCH", *path, payload={"webhook": webhook}, hint_404=SEE_SCRIPTS
        )
        return cast(dict[str, Any], answer.json())

    def deliveries(self, script_id: str, execution_id: str) -> list[dict[str, Any]]:
        """Where the run's end was POSTed, with each attempt."""
        path = ["scripting", "log", "script", script_id, "execution", execution_id, "deliveries"]
        data = self.client.call("GET", *path, hint_404=SEE_LOGS).json()
        return cast(list[dict[str, Any]], data["deliveries"])

    def signing_secret(self, *, rotate: bool = False) -> dict[str, Any]:
        """The tenant's signing secret's state, or (``rotate``) a new secret, shown once."""
        path = ["scripting", "webhook", "secret"]
        answer = self.client.call("POST" if rotate else "GET", *path)
        return cast(dict[str, Any], answer.json())

    # -- variables and secrets --------------------------------------------------------------
    def variables(self) -> list[dict[str, Any]]:
        """The tenant's variables by name (never their values)."""
        data = self.client.call("GET", "scripting", "variables").json()
        return cast(list[dict[str, Any]], data["variables"])

    def variable(self, name: str) -> dict[str, Any]:
        """One variable; with its ``value`` when it is not a secret."""
        answer = self.client.call("GET", "scripting", "variables", name, hint_404=SEE_VARIABLES)
        return cast(dict[str, Any], answer.json())

    def put_variable(
        self, name: str, value: str, *, secret: bool = True
    ) -> tuple[dict[str, Any], bool]:
        """Create or replace a variable: the variable (no value), and whether it is new."""
        payload = {"value": value, "secret": secret}
        answer = self.client.call("PUT", "scripting", "variables", name, payload=payload)
        return cast(dict[str, Any], answer.json()), answer.status == 201

    def delete_variable(self, name: str) -> None:
        self.client.call("DELETE", "scripting", "variables", name, hint_404=SEE_VARIABLES)

    def set_retries(self, script_id: str, retries: Mapping[str, Any] | None) -> dict[str, Any]:
        """Set (or with None turn off) the retries of the script's background runs."""
        path = ["scripting", "script", script_id]
        answer = self.client.call(
            "PATCH", *path, payload={"retries": retries}, hint_404=SEE_SCRIPTS
        )
        return cast(dict[str, Any], answer.json())

    def set_script_variables(self, script_id: str, names: Sequence[str]) -> dict[str, Any]:
        """Set the names of the variables the script's runs get: the script."""
        path = ["scripting", "script", script_id]
        payload = {"variables": list(names)}
        answer = self.client.call("PATCH", *path, payload=payload, hint_404=SEE_SCRIPTS)
        return cast(dict[str, Any], answer.json())

    # -- runs -------------------------------------------------------------------------------
    def run(
        self, script_id: str, request: RunRequest | None = None, *, timeout: float | None = None
    ) -> Answer:
        """Run the script and wait: its answer, whatever its status (the script's own 4xx
        and 5xx included). ``ServerError`` when the server refused to run it."""
        return self._send("run", script_id, request or RunRequest(), timeout)

    def run_background(
        self, script_id: str, request: RunRequest | None = None, *, timeout: float | None = None
    ) -> Queued:
        """Queue a run of the script (202): its execution id and where its log is."""
        answer = self._send("background", script_id, request or RunRequest(), timeout)
        if answer.status >= 400:
            raise ServerError(answer, self.run_hint(script_id, answer))
        execution_id = str(answer.json()["executionId"])
        location = urllib.parse.urljoin(self.url + "/", answer.header("Location") or "")
        return Queued(execution_id, location)

    def _send(
        self, route: str, script_id: str, request: RunRequest, timeout: float | None
    ) -> Answer:
        answer = self.client.request(
            request.http_method, "scripting", "script", script_id, route,
            query=request.query, body=request.body, headers=request.headers, timeout=timeout,
        )  # fmt: skip
        if answer.status >= 400 and not answer.header("X-Execution-Id"):
            # Every answer of a run carries X-Execution-Id: this one is not the script's.
            raise ServerError(answer, self.run_hint(script_id, answer))
        return answer

    def run_hint(self, script_id: str, answer: Answer) -> str | None:
        """What to do about a run's error answer: the server's refusal, or the script's
        failure (its log has the traceback)."""
        execution = answer.header("X-Execution-Id")
        if answer.status in (401, 403, 404) or not execution:
            return self.client.hint(answer, SEE_SCRIPTS)
        if answer.error_document() is not None:
            return f"Its log: jupyter scripting logs {script_id} {execution}"
        return None

    # -- logs -------------------------------------------------------------------------------
    def executions(
        self,
        script_id: str,
        *,
        limit: int = 20,
        offset: int = 0,
        version: int | str | None = None,
    ) -> ExecutionList:
        """A page of the script's executions, newest first: of its latest version, of
        ``version``, or of every version (``"all"``)."""
        query = [("limit", str(limit)), ("offset", str(offset))]
        if version is not None:
            query.append(("version", str(version)))
        answer = self.client.call(
            "GET", "scripting", "log", "script", script_id, query=query, hint_404=SEE_SCRIPTS
        )
        return cast(ExecutionList, answer.json())

    def latest_execution(
        self, script_id: str, *, version: int | str | None = None
    ) -> ExecutionModel | None:
        """The script's newest execution (of ``version``), or None if it never ran."""
        entries = self.executions(script_id, limit=1, version=version)["filteredLogs"]
        return entries[0] if entries else None

    def execution_events(
        self, script_id: str, execution_id: str
    ) -> Iterator[tuple[str, Any, int | None]]:
        """A run's live events (README, "Live output"), ending with its ``status``."""
        path = ["scripting", "log", "script", script_id, "execution", execution_id, "events"]
        return self.client.events(*path)

    def execution(
        self,
        script_id: str,
        execution_id: str,
        *,
        notebook: bool = False,
        hint_404: str | None = None,
    ) -> Answer:
        """What a run answered (its status in ``X-Execution-Status``), or with ``notebook``
        its executed notebook; 202 (``{"executionId", "state"}``) while it is unfinished."""
        path = ["scripting", "log", "script", script_id, "execution", execution_id]
        if notebook:
            path.append("notebook")
        return self.client.call("GET", *path, hint_404=hint_404)

    # -- keys -------------------------------------------------------------------------------
    def list_keys(self) -> list[KeyModel]:
        """The API keys of the caller's tenant, newest first."""
        data = self.client.call("GET", "scripting", "key").json()
        return cast(list[KeyModel], data["keys"])

    def create_key(self, user: str, role: str) -> CreatedKeyModel:
        """A new API key of the caller's tenant (an admin's call); the server checks
        ``role`` (one of ``rules.ROLES``)."""
        payload = {"user": user, "role": role}
        answer = self.client.call("POST", "scripting", "key", payload=payload)
        return cast(CreatedKeyModel, answer.json())

    def revoke_key(self, key_id: str) -> None:
        """Revoke a key of the caller's tenant (again: its first revocation date is kept)."""
        hint = "See `jupyter scripting key list`."
        self.client.call("DELETE", "scripting", "key", key_id, hint_404=hint)
