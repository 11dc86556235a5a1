"""The way of the ``key`` commands to the store, with no server running.

The database is the server's: ``ScriptingApp.database_url`` from the same configuration
files, with the same precedence (lowest first): the extension's own
``jupyter_jupyter_scripting_config``, then ``jupyter_config`` and ``jupyter_server_config``
(or the ``--config`` file), each ``.py`` then ``.json`` from every directory of the
Jupyter config path (``jupyter --paths``, read from the bottom up), and
``--ScriptingApp.database_url`` over all of them; else the default SQLite file in the
Jupyter data directory. The files are read with traitlets' own loaders (importing the
server to read them would cost seconds); one that cannot be loaded is an error, never
skipped: it could point at another database. The store is then opened (its schema
created or upgraded) as the server opens it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pprint
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from jupyter_core.paths import jupyter_config_dir, jupyter_config_path
from sqlalchemy.engine import make_url
from traitlets.config import Config
from traitlets.config.loader import (
    ConfigFileNotFound,
    JSONFileConfigLoader,
    PyFileConfigLoader,
)

from ..errors import ScriptingError, StoreError
from ..paths import default_database_url
from ..store.service import Store
from . import EXTENSION_CONFIG_FILE
from .errors import CommandError

_T = TypeVar("_T")

log = logging.getLogger(__name__)


@dataclass
class ServerConfig:
    """The configuration read, and the files it came from (in the order read)."""

    config: Config = field(default_factory=Config)
    files: list[str] = field(default_factory=list)

    def database_url(self) -> str:
        """``ScriptingApp.database_url`` as the server would see it, else its default."""
        url = self.config.get("ScriptingApp", {}).get("database_url")
        if url is None:
            return default_database_url()
        if not isinstance(url, str) or not url:
            raise CommandError(f"Bad configuration: ScriptingApp.database_url = {url!r}")
        return url

    def show(self, as_json: bool = False) -> None:
        """Print the configuration (as Jupyter's ``--show-config`` does) on stdout."""
        if as_json:
            json.dump(self.config, sys.stdout, indent=1, sort_keys=True, default=repr)
            sys.stdout.write("\n")
            return
        if self.files:
            print("Loaded config files:")
            for name in self.files:
                print("  " + name)
            print()
        for section in sorted(self.config):
            values = self.config[section]
            if not values:
                continue
            print(section)
            for name in sorted(values):
                print(f"  .{name} = {pprint.pformat(values[name], indent=4, compact=True)}")


def config_file_paths() -> list[str]:
    """The Jupyter config path, highest priority first, the user's directory included
    (as a Jupyter application's ``config_file_paths``)."""
    paths = jupyter_config_path()
    user = jupyter_config_dir()
    if user not in paths:
        paths.insert(0, user)
    return paths


def read_server_config(
    config_file: str | None = None, database_url: str | None = None
) -> ServerConfig:
    """The server's configuration, ``--config`` and ``--ScriptingApp.database_url`` given."""
    paths = config_file_paths()
    files: list[tuple[str, Sequence[str]]] = [
        (EXTENSION_CONFIG_FILE, paths),
        ("jupyter_config", paths),
    ]
    if config_file:
        if not os.path.isfile(config_file):
            # The server would skip it; here it could mean writing to another database.
            raise CommandError(f"No configuration file {config_file!r}.")
        directory, name = os.path.split(config_file)
        files.append((name, [directory or os.getcwd()]))
    else:
        files.append(("jupyter_server_config", paths))
    result = ServerConfig()
    for name, directories in files:
        # Lowest priority first: every later file overrides what came before.
        for directory in reversed(directories):
            _load(result, name, directory)
    if database_url is not None:
        result.config.merge(Config({"ScriptingApp": {"database_url": database_url}}))
    return result


def _load(result: ServerConfig, name: str, directory: str) -> None:
    """Load ``name`` (``.py``, then ``.json``) from ``directory`` into ``result``."""
    base = os.path.splitext(name)[0]
    log.debug("Looking for %s in %s", base, directory)
    loaded: list[tuple[str, Config]] = []
    for loader_class, extension in ((PyFileConfigLoader, ".py"), (JSONFileConfigLoader, ".json")):
        loader = loader_class(base + extension, path=directory, log=log)
        try:
            config = loader.load_config()
        except ConfigFileNotFound:
            continue
        except Exception as exc:
            detail = str(exc).strip().splitlines()
            raise CommandError(
                f"Could not load the configuration {name} in {directory}: "
                f"{type(exc).__name__}{': ' + detail[0] if detail else ''}"
            ) from exc
        log.debug("Loaded config file: %s", loader.full_filename)
        for earlier_file, earlier in loaded:
            if collisions := earlier.collisions(config):
                log.warning(
                    "Collisions detected in %s and %s config files. %s has higher priority: %s",
                    earlier_file,
                    loader.full_filename,
                    loader.full_filename,
                    json.dumps(collisions, indent=2),
                )
        loaded.append((loader.full_filename, config))
        result.config.merge(config)
        if loader.full_filename not in result.files:
            result.files.append(loader.full_filename)


def on_store(
    work: Callable[[Store], Awaitable[_T]],
    *,
    config_file: str | None = None,
    database_url: str | None = None,
    log_level: int | None = None,
    show_config: Literal["text", "json"] | None = None,
) -> _T | None:
    """Run ``work`` on the store the server's configuration names (``--config``,
    ``--ScriptingApp.database_url`` given); with ``show_config``, print that
    configuration instead (and answer None)."""
    _configure_logging(logging.WARNING if log_level is None else log_level)
    config = read_server_config(config_file, database_url)
    if show_config is not None:
        config.show(as_json=show_config == "json")
        return None
    return _with_store(config.database_url(), work)


def _configure_logging(level: int) -> None:
    """Log to stderr from ``level`` on; the store's own failures only with ``--debug``
    (it logs them with their traceback; here one line says it all)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[%(name)s] %(message)s"))
    ours = logging.getLogger("jupyter_scripting")
    ours.setLevel(level)
    ours.addHandler(handler)
    ours.propagate = False
    if level > logging.DEBUG:
        store_log = logging.getLogger("jupyter_scripting.store")
        store_log.propagate = False
        store_log.addHandler(logging.NullHandler())


def _with_store(url: str, work: Callable[[Store], Awaitable[_T]]) -> _T:
    """Open the store (creating or upgrading its schema), run ``work``, close it."""

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


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparsable URL)"
