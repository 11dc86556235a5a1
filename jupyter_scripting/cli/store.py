"""``jupyter scripting key create|list|revoke`` on the store, with no server running.

They manage API keys directly in the store the server uses: the database URL is
``ScriptingApp.database_url``, read from the same configuration files as the server
(``jupyter_server_config.py``/``.json`` on the Jupyter config path) and from the command
line (``--ScriptingApp.database_url=...``), else its default (an SQLite file in the Jupyter
data directory). With ``--url`` (or ``JUPYTER_SCRIPTING_URL``) the same commands go
through a server instead: see :mod:`jupyter_scripting.cli.commands`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar, cast

from jupyter_core.application import JupyterApp, base_aliases, base_flags
from traitlets import Bool, Unicode
from traitlets.config import Application
from traitlets.config.loader import ConfigFileNotFound

from .._version import __version__
from ..errors import ScriptingError, StoreError
from ..models import key_model
from ..paths import default_database_url
from ..rules import ROLES
from ..store.records import ApiKeyRecord
from ..store.service import Store
from . import EXTENSION_CONFIG_FILE
from .output import (
    CommandError,
    UsageError,
    print_created_key,
    print_json,
    print_key_list,
    print_revoked_key,
)

_T = TypeVar("_T")


def _describe(exc: ScriptingError) -> str:
    """The error's message; for a store failure also the first line of the database's
    own message (useful to an operator at a terminal, unlike in an HTTP answer)."""
    message = exc.message
    cause = exc.__cause__
    if isinstance(exc, StoreError) and cause is not None:
        detail = str(getattr(cause, "orig", None) or cause).strip().splitlines()
        if detail:
            message = f"{message.rstrip('.')}: {detail[0]}"
    return message


class _StoreCommand(JupyterApp):
    """A command working on the server's store (loads the server's configuration)."""

    version = __version__
    # A broken configuration file could point at another database: fail, do not guess.
    raise_config_file_errors = True

    as_json = Bool(False, config=True, help="Print JSON instead of text.")

    def load_config_file(self, suppress_errors: bool = True) -> None:  # type: ignore[override]
        """Load the configuration files the server loads, with the same precedence:
        the extension's own ``jupyter_jupyter_scripting_config``, then
        ``jupyter_config`` and ``jupyter_server_config`` (or the ``--config`` file),
        each from every directory of the Jupyter config path, the command line last."""
        names = [EXTENSION_CONFIG_FILE, "jupyter_config"]
        files: list[tuple[str, Sequence[str]]] = [(n, self.config_file_paths) for n in names]
        if self.config_file:
            if not os.path.isfile(self.config_file):
                # The server would skip it; here it could mean writing to another database.
                raise CommandError(f"No configuration file {self.config_file!r}.")
            directory, name = os.path.split(self.config_file)
            files.append((name, [directory or os.getcwd()]))
        else:
            files.append(("jupyter_server_config", self.config_file_paths))
        for name, paths in files:
            # Lowest priority first: every later load overrides what came before.
            for path in reversed(paths):
                try:
                    Application.load_config_file(self, name, path=[path])
                except ConfigFileNotFound:
                    pass
                except Exception as exc:
                    detail = str(exc).strip().splitlines()
                    raise CommandError(
                        f"Could not load the configuration {name} in {path}: "
                        f"{type(exc).__name__}{': ' + detail[0] if detail else ''}"
                    ) from exc

    def database_url(self) -> str:
        """``ScriptingApp.database_url`` as the server would see it with this config
        (read from the config directly: importing the server would cost seconds)."""
        url = self.config.get("ScriptingApp", {}).get("database_url")
        if url is None:
            return default_database_url()
        if not isinstance(url, str) or not url:
            raise CommandError(f"Bad configuration: ScriptingApp.database_url = {url!r}")
        return url

    def with_store(self, work: Callable[[Store], Awaitable[_T]]) -> _T:
        """Open the store (creating or upgrading its schema), run ``work``, close it."""
        url = self.database_url()
        store_log = logging.getLogger("jupyter_scripting.store")
        if cast(int, self.log_level) > logging.DEBUG:
            # The store logs failures with their traceback; here one line says it all.
            store_log.propagate = False
            store_log.addHandler(logging.NullHandler())

        async def run() -> _T:
            store = Store(url)
            try:
                await store.start()
                return await work(store)
            finally:
                await store.close()

        try:
            return asyncio.run(run())
        except ScriptingError as exc:
            message = _describe(exc)
            if isinstance(exc, StoreError):
                message += f" [database {_safe_url(url)}]"
            raise CommandError(message) from exc

    def print_json(self, value: Any) -> None:
        print_json(value)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparsable URL)"


#: Jupyter's common flags that make sense here (no --generate-config, no -y).
_FLAGS = {k: v for k, v in base_flags.items() if k in ("debug", "show-config", "show-config-json")}


def _json_flag(command: str) -> dict[str, Any]:
    return {"json": ({command: {"as_json": True}}, "Print JSON instead of text.")}


class KeyCreateCommand(_StoreCommand):
    """Create an API key and print it (shown this once: only its hash is stored)."""

    name = "jupyter-scripting-key-create"
    description = """Create an API key for a user of a tenant with a role (admin, developer
    or runner) and print it as the last line of the output. The key is shown this once:
    the store keeps only its hash."""
    examples = """
    jupyter scripting key create --user ada --role developer
    jupyter scripting key create --tenant acme --user ci --role runner --json
    jupyter scripting key create --user ada --role admin --ScriptingApp.database_url=postgresql+psycopg://user@host/db
    """

    tenant = Unicode("default", config=True, help="The tenant the key belongs to.")
    user = Unicode("", config=True, help="The user the key identifies (required).")
    role = Unicode("", config=True, help="The key's role: admin, developer or runner (required).")

    aliases = {
        **base_aliases,
        "tenant": "KeyCreateCommand.tenant",
        "user": "KeyCreateCommand.user",
        "role": "KeyCreateCommand.role",
    }
    flags = {**_FLAGS, **_json_flag("KeyCreateCommand")}

    def start(self) -> None:
        if self.extra_args:
            raise UsageError(f"Unexpected argument {self.extra_args[0]!r}.")
        if not self.user:
            raise UsageError("--user is required.")
        if not self.role:
            raise UsageError(f"--role is required ({', '.join(ROLES)}).")
        role = next((r for r in ROLES if r == self.role), None)
        if role is None:
            raise UsageError(f"Unknown role {self.role!r}: use one of {', '.join(ROLES)}.")

        async def create(store: Store) -> tuple[ApiKeyRecord, str]:
            return await store.create_api_key(self.tenant, self.user, role)

        record, key = self.with_store(create)
        if self.as_json:
            self.print_json({**key_model(record), "key": key})
            return
        print_created_key(key_model(record), key)


class KeyListCommand(_StoreCommand):
    """List API keys (never their secrets)."""

    name = "jupyter-scripting-key-list"
    description = """List the API keys of a tenant (of every tenant without --tenant),
    newest first: id, tenant, user, role, creation and revocation dates. Secrets are
    never shown: the store does not have them."""
    examples = """
    jupyter scripting key list
    jupyter scripting key list --tenant acme --json
    """

    tenant = Unicode(
        None, allow_none=True, config=True, help="Only this tenant's keys (default: all)."
    )

    aliases = {**base_aliases, "tenant": "KeyListCommand.tenant"}
    flags = {**_FLAGS, **_json_flag("KeyListCommand")}

    def start(self) -> None:
        if self.extra_args:
            raise UsageError(f"Unexpected argument {self.extra_args[0]!r}.")

        async def list_keys(store: Store) -> list[ApiKeyRecord]:
            return await store.list_api_keys(self.tenant)

        keys = self.with_store(list_keys)
        if self.as_json:
            self.print_json({"keys": [key_model(k) for k in keys]})
            return
        print_key_list(key_model(k) for k in keys)


class KeyRevokeCommand(_StoreCommand):
    """Revoke an API key: it is refused from then on."""

    name = "jupyter-scripting-key-revoke"
    description = """Revoke the API key KEY_ID (the id shown by `key list`). Revoking a
    revoked key keeps its first revocation date. Exits with status 1 if there is no such
    key (in --tenant, when given)."""
    examples = """
    jupyter scripting key revoke 1a2b3c4d5e6f7a8b
    jupyter scripting key revoke 1a2b3c4d5e6f7a8b --tenant acme
    """

    tenant = Unicode(
        None, allow_none=True, config=True, help="Only revoke the key if it is this tenant's."
    )

    aliases = {**base_aliases, "tenant": "KeyRevokeCommand.tenant"}
    flags = _FLAGS

    def start(self) -> None:
        if len(self.extra_args) != 1:
            raise UsageError("Give exactly one KEY_ID (see `jupyter scripting key list`).")
        key_id = self.extra_args[0]

        async def revoke(store: Store) -> ApiKeyRecord:
            return await store.revoke_api_key(key_id, self.tenant)

        record = self.with_store(revoke)
        print_revoked_key(key_model(record))


class _GroupCommand(JupyterApp):
    """A command that only dispatches to its subcommands."""

    version = __version__

    def start(self) -> None:
        super().start()  # runs the subcommand, if one was given (and raises NoStart)
        names = ", ".join(sorted(self.subcommands))
        raise UsageError(f"Give a subcommand: {names} (--help for more).")


class KeyCommand(_GroupCommand):
    """Manage API keys."""

    name = "jupyter-scripting-key"
    description = """Manage the API keys of the scripting service in the server's store
    (the same database as the server: ScriptingApp.database_url). With --url URL (or
    JUPYTER_SCRIPTING_URL set) the same commands go through that running server's
    /scripting/key routes instead, as an admin of the caller's tenant (jupyter scripting
    key create --url URL --token ADMIN_KEY --user U --role ROLE)."""
    subcommands = {
        "create": (KeyCreateCommand, KeyCreateCommand.__doc__ or ""),
        "list": (KeyListCommand, KeyListCommand.__doc__ or ""),
        "revoke": (KeyRevokeCommand, KeyRevokeCommand.__doc__ or ""),
    }


def run_store_key_command(argv: list[str]) -> None:
    """Run ``jupyter scripting key ARGV`` on the store (raises :class:`CommandError`)."""
    KeyCommand.launch_instance(argv)
