"""``jupyter scripting retries ID``: show or set the retries of a script's background
runs (README, "Retries")."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from .errors import EXIT_OK
from .options import Commands, api_for, as_json, count, usage
from .render import describe_retries, print_json


def add_parser(commands: Commands) -> None:
    """``retries``."""
    retries = commands.add(
        "retries",
        "show or set the retries of a script's background runs",
        """Without options, show the retries of the script ID. With --max N, a background
run of it that ends with one of the --on statuses (default 500, 502, 504) is queued
again, up to N more times, --backoff seconds after it ended (default 30), doubled for
each further attempt. --off turns them off.""",
        "examples:\n  jupyter scripting retries ID\n"
        "  jupyter scripting retries ID --max 3 --on 502,504 --backoff 60\n"
        "  jupyter scripting retries ID --off",
    )
    retries.add_argument("script_id", metavar="ID", help="the script's id")
    retries.add_argument("--max", type=count, help="how many more attempts (1 to 10)")
    retries.add_argument("--on", help="the statuses retried, comma-separated")
    retries.add_argument("--backoff", type=float, help="seconds before the first retry")
    retries.add_argument("--off", action="store_true", help="no retries")
    retries.set_defaults(handler=cmd_retries)


def cmd_retries(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    api = api_for(args)
    changes = args.max is not None or args.on is not None or args.backoff is not None
    if args.off and changes:
        usage(parser, "--off takes no --max, --on or --backoff")
    if changes and args.max is None:
        usage(parser, "give --max N with --on or --backoff")
    script: Mapping[str, Any]
    if args.off:
        script = api.set_retries(args.script_id, None)
    elif changes:
        setting: dict[str, object] = {"max": args.max}
        if args.on is not None:
            try:
                setting["on"] = [int(s) for s in args.on.split(",") if s.strip()]
            except ValueError:
                usage(parser, f"--on takes statuses separated by commas, not {args.on!r}")
        if args.backoff is not None:
            setting["backoff"] = args.backoff
        script = api.set_retries(args.script_id, setting)
    else:
        script = api.script(args.script_id)
    if as_json(args):
        print_json({"scriptId": script["scriptId"], "retries": script.get("retries")})
    else:
        print(f"Retries of {script['scriptId']}: {describe_retries(script.get('retries'))}")
    return EXIT_OK
