"""``jupyter scripting webhook show|set|clear|deliveries|secret``: where a script's runs'
ends are POSTed, what became of each delivery, and the tenant's signing secret (README,
"Webhooks")."""

from __future__ import annotations

import argparse
import functools

from .errors import EXIT_OK
from .options import Commands, api_for, as_json, usage
from .render import print_deliveries, print_json

EVENTS = ("finished", "failed")


def add_parser(commands: Commands) -> None:
    """``webhook`` and its commands."""
    webhook = commands.add(
        "webhook",
        "a script's webhook, its runs' deliveries, the signing secret",
        """Where a script's runs' ends are POSTed: a JSON body (executionId, scriptId,
statusCode, state, durationMs, logUrl, …) signed with the tenant's secret in the
X-Scripting-Signature header, tried again with back-off until the receiver answers 2xx.""",
    )
    webhook.set_defaults(handler=functools.partial(cmd_webhook, webhook))
    sub = commands.under(webhook, "webhook_command", "WEBHOOK_COMMAND")
    show = sub.add(
        "show",
        "show a script's webhook",
        "Show the webhook of the script ID (or that it has none).",
        "examples:\n  jupyter scripting webhook show ID",
    )
    show.add_argument("script_id", metavar="ID", help="the script's id")
    show.set_defaults(handler=cmd_show)
    put = sub.add(
        "set",
        "set a script's webhook",
        """POST the ends of the script ID's background runs (and with --sync its
synchronous runs') to URL. The first webhook of a tenant prints its signing secret, once:
keep it where the receiver verifies signatures (`webhook secret --rotate` makes a new
one).""",
        "examples:\n  jupyter scripting webhook set ID https://hooks.example.com/done\n"
        "  jupyter scripting webhook set ID https://hooks.example.com/alert --events failed",
    )
    put.add_argument("script_id", metavar="ID", help="the script's id")
    put.add_argument("target", metavar="URL", help="where to POST (http or https)")
    put.add_argument(
        "--events",
        default="finished,failed",
        help="which ends, comma-separated: finished, failed (default both)",
    )
    put.add_argument("--sync", action="store_true", help="synchronous runs' ends too")
    put.set_defaults(handler=cmd_set)
    clear = sub.add(
        "clear",
        "remove a script's webhook",
        "Remove the webhook of the script ID (deliveries already written are still sent).",
        "examples:\n  jupyter scripting webhook clear ID",
    )
    clear.add_argument("script_id", metavar="ID", help="the script's id")
    clear.set_defaults(handler=cmd_clear)
    deliveries = sub.add(
        "deliveries",
        "where a run's end was POSTed, attempt by attempt",
        "List the deliveries of the run EXECUTION_ID of the script ID with their attempts.",
        "examples:\n  jupyter scripting webhook deliveries ID EXECUTION_ID",
    )
    deliveries.add_argument("script_id", metavar="ID", help="the script's id")
    deliveries.add_argument("execution_id", metavar="EXECUTION_ID", help="the run's id")
    deliveries.set_defaults(handler=cmd_deliveries)
    secret = sub.add(
        "secret",
        "the tenant's signing secret: whether there is one, or a new one",
        """Say whether the tenant has a signing secret and since when; with --rotate make a
new one in its place and print it, once (deliveries sent from then on are signed with
it, on every node).""",
        "examples:\n  jupyter scripting webhook secret\n"
        "  jupyter scripting webhook secret --rotate",
    )
    secret.add_argument("--rotate", action="store_true", help="make a new secret and print it")
    secret.set_defaults(handler=cmd_secret)


def cmd_webhook(
    webhook_parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    parser: argparse.ArgumentParser,
) -> int:
    """``webhook`` without a WEBHOOK_COMMAND."""
    usage(webhook_parser, "give a WEBHOOK_COMMAND: show, set, clear, deliveries or secret")


def _describe(hook: dict[str, object] | None) -> str:
    if not hook:
        return "No webhook."
    events = ", ".join(str(e) for e in hook.get("events") or [])  # type: ignore[attr-defined]
    runs = "background and synchronous runs" if hook.get("sync") else "background runs"
    return f"{hook['url']} ({events}; {runs})"


def cmd_show(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    script = api_for(args).script(args.script_id)
    if as_json(args):
        print_json({"webhook": script.get("webhook")})
    else:
        print(_describe(script.get("webhook")))
    return EXIT_OK


def cmd_set(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    events = [e.strip() for e in args.events.split(",") if e.strip()]
    unknown = sorted(set(events) - set(EVENTS))
    if unknown or not events:
        given = ", ".join(unknown) or "nothing"
        usage(parser, f"--events takes finished and/or failed, not {given}")
    script = api_for(args).set_webhook(
        args.script_id, {"url": args.target, "events": events, "sync": args.sync}
    )
    if as_json(args):
        print_json(script)
        return EXIT_OK
    print(f"Webhook of {script['scriptId']}: {_describe(script['webhook'])}")
    if "signingSecret" in script:
        print(f"Signing secret (shown once; receivers verify with it): {script['signingSecret']}")
    return EXIT_OK


def cmd_clear(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    script = api_for(args).set_webhook(args.script_id, None)
    if as_json(args):
        print_json(script)
    else:
        print(f"Removed the webhook of {script['scriptId']}.")
    return EXIT_OK


def cmd_deliveries(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    found = api_for(args).deliveries(args.script_id, args.execution_id)
    if as_json(args):
        print_json({"executionId": args.execution_id, "deliveries": found})
    else:
        print_deliveries(found)
    return EXIT_OK


def cmd_secret(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    answer = api_for(args).signing_secret(rotate=args.rotate)
    if as_json(args):
        print_json(answer)
    elif args.rotate:
        print(f"New signing secret (shown once): {answer['secret']}")
    elif answer["configured"]:
        print(f"The tenant has a signing secret, made {answer['createdAt']}.")
    else:
        print("The tenant has no signing secret yet: its first webhook makes one.")
    return EXIT_OK
