"""``jupyter scripting secret list|set|show|delete|use``: the tenant's variables and
secrets, and which of them a script's runs get (README, "Variables and secrets")."""

from __future__ import annotations

import argparse
import functools
import getpass
import sys

from .errors import EXIT_OK
from .options import Commands, api_for, as_json, usage
from .render import print_json, print_variables


def add_parser(commands: Commands) -> None:
    """``secret`` and its commands."""
    secret = commands.add(
        "secret",
        "the tenant's variables and secrets, and which a script's runs get",
        """A tenant's variables: secrets (the default; their values never leave the service
again and every output of a run shows them as ***) and plain variables (--plain; their
values can be read back). A script's runs get the ones it asks for (`secret use`) as
secrets["NAME"] and as environment variables.""",
    )
    secret.set_defaults(handler=functools.partial(cmd_secret, secret))
    sub = commands.under(secret, "secret_command", "SECRET_COMMAND")
    listing = sub.add(
        "list",
        "the tenant's variables by name",
        "List the tenant's variables and secrets: names, kinds and dates, never values.",
        "examples:\n  jupyter scripting secret list",
    )
    listing.set_defaults(handler=cmd_list)
    put = sub.add(
        "set",
        "create or replace a variable",
        """Set the variable NAME. The value comes from --from-file, else from standard input
when it is not a terminal (one trailing newline dropped), else from a prompt that does not
echo it; never from the command line, where shell history and process listings would keep
it.""",
        "examples:\n  jupyter scripting secret set API_TOKEN\n"
        '  printf %s "$TOKEN" | jupyter scripting secret set API_TOKEN\n'
        "  echo eu-1 | jupyter scripting secret set REGION --plain",
    )
    put.add_argument("name", metavar="NAME", help="the variable's name (an environment name)")
    put.add_argument("--plain", action="store_true", help="not a secret: its value may be read")
    put.add_argument("--from-file", metavar="PATH", help="read the value from this file")
    put.set_defaults(handler=cmd_set)
    show = sub.add(
        "show",
        "one variable (a plain one's value too)",
        "Show the variable NAME: its kind and dates, and its value if it is not a secret.",
        "examples:\n  jupyter scripting secret show REGION",
    )
    show.add_argument("name", metavar="NAME", help="the variable's name")
    show.set_defaults(handler=cmd_show)
    delete = sub.add(
        "delete",
        "delete a variable",
        "Delete the variable NAME; runs of scripts asking for it no longer get it.",
        "examples:\n  jupyter scripting secret delete API_TOKEN",
    )
    delete.add_argument("name", metavar="NAME", help="the variable's name")
    delete.set_defaults(handler=cmd_delete)
    use = sub.add(
        "use",
        "which variables a script's runs get",
        """Let the runs of the script ID get the variables NAME… (in place of those it got);
with no NAME, none. Without --set, print the names it asks for.""",
        "examples:\n  jupyter scripting secret use ID\n"
        "  jupyter scripting secret use ID --set API_TOKEN REGION\n"
        "  jupyter scripting secret use ID --set",
    )
    use.add_argument("script_id", metavar="ID", help="the script's id")
    use.add_argument(
        "--set", dest="names", nargs="*", metavar="NAME", help="the names its runs get"
    )
    use.set_defaults(handler=cmd_use)


def cmd_secret(
    secret_parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    parser: argparse.ArgumentParser,
) -> int:
    """``secret`` without a SECRET_COMMAND."""
    usage(secret_parser, "give a SECRET_COMMAND: list, set, show, delete or use")


def cmd_list(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    found = api_for(args).variables()
    if as_json(args):
        print_json({"variables": found})
    else:
        print_variables(found)
    return EXIT_OK


def _value(args: argparse.Namespace, parser: argparse.ArgumentParser) -> str:
    """The value to set: from --from-file, a pipe, or a prompt that does not echo."""
    if args.from_file:
        try:
            with open(args.from_file, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as e:
            usage(parser, f"cannot read --from-file {args.from_file}: {e}")
    elif not sys.stdin.isatty():
        text = sys.stdin.read()
    else:
        text = getpass.getpass(f"Value of {args.name}: ")
    return text[:-1] if text.endswith("\n") else text


def cmd_set(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    value = _value(args, parser)
    model, created = api_for(args).put_variable(args.name, value, secret=not args.plain)
    if as_json(args):
        print_json(model)
    else:
        kind = "secret" if model["secret"] else "plain variable"
        print(f"{'Created' if created else 'Replaced'} the {kind} {model['name']}.")
    return EXIT_OK


def cmd_show(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    model = api_for(args).variable(args.name)
    if as_json(args):
        print_json(model)
        return EXIT_OK
    print_variables([model])
    if "value" in model:
        print(f"Value: {model['value']}")
    return EXIT_OK


def cmd_delete(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    api_for(args).delete_variable(args.name)
    if as_json(args):
        print_json({"name": args.name, "deleted": True})
    else:
        print(f"Deleted {args.name}.")
    return EXIT_OK


def cmd_use(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    api = api_for(args)
    if args.names is None:
        names = list(api.script(args.script_id).get("variables") or [])
    else:
        names = list(api.set_script_variables(args.script_id, args.names)["variables"])
    if as_json(args):
        print_json({"scriptId": args.script_id, "variables": names})
    elif names:
        print(f"Runs of {args.script_id} get: {', '.join(names)}")
    else:
        print(f"Runs of {args.script_id} get no variables.")
    return EXIT_OK
