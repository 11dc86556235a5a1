"""``jupyter scripting schedule list|add|pause|resume|delete``: a script's cron schedules
(README, "Schedules"), through the server's ``/scripting/script/{id}/schedule`` routes."""

from __future__ import annotations

import argparse
import functools
import json
from typing import Any

from .errors import EXIT_OK, UsageError
from .options import Commands, api_for, as_json, usage
from .render import print_json, print_schedules


def add_parser(commands: Commands) -> None:
    """``schedule`` and its commands."""
    schedule = commands.add(
        "schedule",
        "a script's cron schedules: list, add, pause, resume, delete",
        """A script's cron schedules: each tick of a schedule queues one background run of
the script's latest version with the schedule's JSON body, once per tick however many
server nodes share the store. Ticks missed while the service was down are skipped, or
with --catch-up once run once.""",
    )
    schedule.set_defaults(handler=functools.partial(cmd_schedule, schedule))
    sub = commands.under(schedule, "schedule_command", "SCHEDULE_COMMAND")
    listing = sub.add(
        "list",
        "list a script's schedules with their next runs",
        "List the schedules of the script ID: id, cron, time zone, state, next run, last run.",
        "examples:\n  jupyter scripting schedule list ID\n"
        "  jupyter scripting schedule list ID --json",
    )
    listing.add_argument("script_id", metavar="ID", help="the script's id")
    listing.set_defaults(handler=cmd_list)
    add = sub.add(
        "add",
        "add a schedule to a script",
        """Add a schedule to the script ID: CRON is five fields (minute hour day month
weekday; quote it) or @hourly, @daily, …; the ticks are in --timezone (an IANA name,
default UTC). --data is the JSON body of each run (its parameters); the server checks it
against the script's parameters (422).""",
        "examples:\n  jupyter scripting schedule add ID '*/15 * * * *'\n"
        "  jupyter scripting schedule add ID '0 9 * * 1-5' --timezone Europe/Berlin "
        '--data \'{"name": "Ada"}\'',
    )
    add.add_argument("script_id", metavar="ID", help="the script's id")
    add.add_argument("cron", metavar="CRON", help="the cron expression (quoted)")
    add.add_argument("--timezone", help="the ticks' IANA time zone (default UTC)")
    add.add_argument("--data", "-d", metavar="JSON", help="the runs' JSON body")
    add.add_argument(
        "--catch-up",
        choices=("skip", "once"),
        help="after ticks missed while the service was down: skip them (default), or run once",
    )
    add.add_argument("--paused", action="store_true", help="add it paused (no runs yet)")
    add.set_defaults(handler=cmd_add)
    for name, summary in (
        ("pause", "pause a schedule: its ticks queue no runs"),
        ("resume", "resume a paused schedule, from its next tick"),
        ("delete", "delete a schedule (the runs it queued stay in the log)"),
    ):
        action = sub.add(
            name,
            summary,
            f"{summary[0].upper()}{summary[1:]}.",
            f"examples:\n  jupyter scripting schedule {name} ID SCHEDULE_ID",
        )
        action.add_argument("script_id", metavar="ID", help="the script's id")
        action.add_argument(
            "schedule_id", metavar="SCHEDULE_ID", help="the schedule's id (see `schedule list`)"
        )
        action.set_defaults(handler=functools.partial(cmd_change, name))


def cmd_schedule(
    schedule_parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    parser: argparse.ArgumentParser,
) -> int:
    """``schedule`` without a SCHEDULE_COMMAND."""
    usage(schedule_parser, "give a SCHEDULE_COMMAND: list, add, pause, resume or delete")


def cmd_list(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    found = api_for(args).schedules(args.script_id)
    if as_json(args):
        print_json({"schedules": found})
        return EXIT_OK
    print_schedules(found)
    return EXIT_OK


def cmd_add(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    payload: dict[str, Any] = {"cron": args.cron}
    if args.timezone is not None:
        payload["timezone"] = args.timezone
    if args.data is not None:
        try:
            payload["body"] = json.loads(args.data)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--data is not JSON: {exc.msg} (at column {exc.colno}).") from None
    if args.catch_up is not None:
        payload["catchUp"] = args.catch_up
    if args.paused:
        payload["enabled"] = False
    created = api_for(args).create_schedule(args.script_id, payload)
    return _print_schedule(
        args, created, f"Added schedule {created['scheduleId']} ({created['cron']}, "
        f"{created['timezone']})."
    )  # fmt: skip


def cmd_change(action: str, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    api = api_for(args)
    if action == "delete":
        api.delete_schedule(args.script_id, args.schedule_id)
        if not as_json(args):
            print(f"Deleted schedule {args.schedule_id}.")
        return EXIT_OK
    changed = api.update_schedule(args.script_id, args.schedule_id, {"enabled": action == "resume"})
    state = "active" if changed["enabled"] else "paused"
    return _print_schedule(args, changed, f"Schedule {changed['scheduleId']} is {state}.")


def _print_schedule(args: argparse.Namespace, schedule: dict[str, Any], line: str) -> int:
    """A schedule as JSON, or ``line`` then its row."""
    if as_json(args):
        print_json(schedule)
    else:
        print(line)
        print_schedules([schedule])
    return EXIT_OK
