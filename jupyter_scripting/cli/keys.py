"""``jupyter scripting key create|list|revoke``: API keys, through a server or on the store.

With ``--url`` (or ``JUPYTER_SCRIPTING_URL``) they go through that server's
``/scripting/key`` routes, as an admin of the caller's tenant. Without, they work
directly on the server's store, with no server running: the database of
``ScriptingApp.database_url`` (:mod:`.store`), created or upgraded as the server does.
Both print the same (:mod:`.render`). The store side imports traitlets and the store
(SQLAlchemy) only when it runs, so that the client commands start fast.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ..models import key_model
from ..rules import ROLES, Role
from .errors import EXIT_OK, PROG, UsageError
from .options import Commands, api_for, as_json, log_level, usage
from .render import print_created_key, print_json, print_key_list, print_revoked_key
from .servers import URL_ENV

if TYPE_CHECKING:
    from ..store.service import Store

_T = TypeVar("_T")
#: The store's options (dest, option), refused through a server.
_STORE_OPTIONS = (
    ("database_url", "--ScriptingApp.database_url"),
    ("config_file", "--config"),
    ("log_level", "--debug/--log-level"),
    ("show_config", "--show-config"),
    ("show_config_json", "--show-config-json"),
)
#: The server's options (dest, option), of no use on the store.
_SERVER_OPTIONS = (("token", "--token"), ("timeout", "--timeout"), ("insecure", "--insecure"))


#: ``admin, developer or runner``.
ROLES_TEXT = f"{', '.join(ROLES[:-1])} or {ROLES[-1]}"


def add_parser(commands: Commands) -> None:
    """``key`` and its commands, with the options of the store besides the server's."""
    key = commands.add(
        "key",
        "manage API keys (in the store; through a server with --url)",
        f"""Manage API keys. Without --url (and without ${URL_ENV})
these work directly on the server's store: the same database as the server
(ScriptingApp.database_url, from the server's configuration files, or
--ScriptingApp.database_url=URL). With a server they go through its /scripting/key
routes, in the tenant of the caller (an admin key).""",
    )
    key.set_defaults(handler=functools.partial(cmd_key, key))
    keys = commands.under(key, "key_command", "KEY_COMMAND")
    create = keys.add(
        "create",
        "create a key and print it (shown once)",
        f"""Create an API key for a user of a tenant with a role ({ROLES_TEXT}) and
print it as the last line of the output. The key is shown this once: the store keeps
only its hash.""",
        "examples:\n  jupyter scripting key create --user ada --role developer\n"
        "  jupyter scripting key create --tenant acme --user ci --role runner --json\n"
        "  jupyter scripting key create --user ada --role admin "
        "--ScriptingApp.database_url=postgresql+psycopg://user@host/db\n"
        "  jupyter scripting key create --url URL --token ADMIN_KEY --user ada --role runner",
    )
    create.add_argument("--user", required=True, help="the user the key identifies")
    create.add_argument("--role", required=True, help=ROLES_TEXT)
    create.add_argument("--tenant", help="the key's tenant (on the store; default: default)")
    create.set_defaults(handler=cmd_key_create)
    listing = keys.add(
        "list",
        "list the tenant's keys",
        """List the API keys of the tenant (on the store: of every tenant without --tenant),
newest first: id, tenant, user, role, creation and revocation dates. Secrets are never
shown: the store does not have them.""",
        "examples:\n  jupyter scripting key list\n"
        "  jupyter scripting key list --tenant acme --json",
    )
    listing.add_argument("--tenant", help="only this tenant's keys (on the store)")
    listing.set_defaults(handler=cmd_key_list)
    revoke = keys.add(
        "revoke",
        "revoke a key",
        """Revoke the API key KEY_ID (the id shown by `key list`): it is refused from then
on. Revoking a revoked key keeps its first revocation date. Exits with status 1 if there
is no such key (in --tenant, when given).""",
        "examples:\n  jupyter scripting key revoke 1a2b3c4d5e6f7a8b\n"
        "  jupyter scripting key revoke 1a2b3c4d5e6f7a8b --tenant acme",
    )
    revoke.add_argument("key_id", metavar="KEY_ID", help="the key's id (see `key list`)")
    revoke.add_argument("--tenant", help="only if it is this tenant's key (on the store)")
    revoke.set_defaults(handler=cmd_key_revoke)
    for parser in (create, listing, revoke):
        _add_store_options(parser)


def _add_store_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("the store (without --url)")
    group.add_argument(
        "--ScriptingApp.database_url",
        dest="database_url",
        metavar="URL",
        help="the store's database (default: the server's configuration, else the SQLite "
        "file in the Jupyter data directory)",
    )
    group.add_argument(
        "--config",
        dest="config_file",
        metavar="FILE",
        help="read this configuration file instead of jupyter_server_config (as the "
        "server's --config does)",
    )
    group.add_argument(
        "--debug",
        dest="log_level",
        action="store_const",
        const=logging.DEBUG,
        help="say which configuration files are read, and show a failure's details",
    )
    group.add_argument(
        "--log-level", type=log_level, metavar="LEVEL", help="DEBUG, INFO, WARN (default), …"
    )
    group.add_argument(
        "--show-config",
        action="store_true",
        help="print the configuration read (and the files it came from) instead",
    )
    group.add_argument("--show-config-json", action="store_true", help="the same, as JSON")


def through_server(args: argparse.Namespace) -> bool:
    """Whether the key command goes through a server: ``--url`` or ``JUPYTER_SCRIPTING_URL``."""
    return hasattr(args, "url") or bool(os.environ.get(URL_ENV))


def cmd_key(
    key_parser: argparse.ArgumentParser, args: argparse.Namespace, parser: argparse.ArgumentParser
) -> int:
    """``key`` without a KEY_COMMAND."""
    if through_server(args):
        usage(key_parser, "give a KEY_COMMAND")
    raise UsageError("Give a subcommand: create, list, revoke (--help for more).")


def cmd_key_create(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if through_server(args):
        _server_only(args, parser)
        model: dict[str, Any] = dict(api_for(args).create_key(args.user, args.role))
    else:
        if args.role not in ROLES:  # checked before anything is opened
            raise UsageError(f"Unknown role {args.role!r}: use one of {', '.join(ROLES)}.")
        role, tenant = cast(Role, args.role), args.tenant or "default"
        created = _on_store(args, lambda store: store.create_api_key(tenant, args.user, role))
        if created is None:
            return EXIT_OK
        record, key = created
        model = {**key_model(record), "key": key}
    if as_json(args):
        print_json(model)
    else:
        print_created_key(model, model["key"])
    return EXIT_OK


def cmd_key_list(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if through_server(args):
        _server_only(args, parser)
        keys: list[Mapping[str, Any]] = list(api_for(args).list_keys())
    else:
        records = _on_store(args, lambda store: store.list_api_keys(args.tenant))
        if records is None:
            return EXIT_OK
        keys = [key_model(k) for k in records]
    if as_json(args):
        print_json({"keys": keys})
    else:
        print_key_list(keys)
    return EXIT_OK


def cmd_key_revoke(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if through_server(args):
        _server_only(args, parser)
        api = api_for(args)
        api.revoke_key(args.key_id)
        found = next((k for k in api.list_keys() if k["keyId"] == args.key_id), None)
        # Revoked, then gone from the list: say what is known.
        model: Mapping[str, Any] = found or {
            "keyId": args.key_id, "user": "?", "tenant": "?", "revokedAt": "now",
        }  # fmt: skip
    else:
        record = _on_store(args, lambda store: store.revoke_api_key(args.key_id, args.tenant))
        if record is None:
            return EXIT_OK
        model = key_model(record)
    if as_json(args):
        print_json(model)
    else:
        print_revoked_key(model)
    return EXIT_OK


def _server_only(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Refuse the options of the store: through a server, they would mean nothing."""
    if args.tenant is not None:
        usage(
            parser,
            "--tenant is for the store (without --url): through a server, keys are those "
            "of the tenant of the caller's key",
        )
    for dest, option in _STORE_OPTIONS:
        if getattr(args, dest) not in (None, False):
            usage(parser, f"{option} is for the store (without --url), not through a server")


# -- on the store ------------------------------------------------------------------------------
def _on_store(args: argparse.Namespace, work: Callable[[Store], Awaitable[_T]]) -> _T | None:
    """Run ``work`` on the store of the server's configuration; None after
    ``--show-config`` (which shows that configuration instead)."""
    for dest, option in _SERVER_OPTIONS:
        if hasattr(args, dest):
            print(f"{PROG}: {option} has no effect on the store (no --url).", file=sys.stderr)
    from .store import on_store  # traitlets and SQLAlchemy: only for these commands

    return on_store(
        work,
        config_file=args.config_file,
        database_url=args.database_url,
        log_level=args.log_level,
        show_config="json" if args.show_config_json else "text" if args.show_config else None,
    )
