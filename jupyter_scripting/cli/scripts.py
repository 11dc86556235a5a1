"""``jupyter scripting publish``, ``list`` and ``show``: a tenant's scripts."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .errors import EXIT_OK, UsageError
from .options import Commands, api_for, as_json
from .render import print_json, print_script, print_scripts


def add_parsers(commands: Commands) -> None:
    """``publish``, ``list`` and ``show``."""
    publish = commands.add(
        "publish",
        "publish a notebook: a new script, or a new version of one",
        """Publish NOTEBOOK (.ipynb) as a script. It becomes a new version of the script
--id names; else of the script its metadata names (metadata.jupyter_scripting.scriptId,
written by JupyterLab's Publish), if it exists on the server; else of the script of the
same name (--name, default the file's name without .ipynb); else a new script.""",
        "examples:\n  jupyter scripting publish hello.ipynb\n"
        "  jupyter scripting publish report.ipynb --name weekly-report",
    )
    publish.add_argument("notebook", metavar="NOTEBOOK", help="the .ipynb file")
    publish.add_argument("--name", help="the script's name (default: the file's stem)")
    publish.add_argument(
        "--id", dest="script_id", metavar="SCRIPT_ID", help="publish a new version of this script"
    )
    publish.set_defaults(handler=cmd_publish)

    listing = commands.add(
        "list", "list the scripts", "List every script of the tenant, most recently updated first."
    )
    listing.set_defaults(handler=cmd_list)

    show = commands.add(
        "show",
        "show a script: its settings and the parameters a run takes",
        """Show the script ID: its name, version, settings and URL, and the parameters of
its latest version (the notebook's cell tagged 'parameters': each name's type, default and
comment), which a run takes as JSON body keys or query values. --json prints the script and
its parameters' JSON Schema; --openapi prints the script's own OpenAPI document (to
generate a client for this one script).""",
        "examples:\n  jupyter scripting show ID\n  jupyter scripting show ID --json\n"
        "  jupyter scripting show ID --openapi > script.json",
    )
    show.add_argument("script_id", metavar="ID", help="the script's id")
    show.add_argument(
        "--openapi", action="store_true", help="print the script's OpenAPI document (JSON)"
    )
    show.set_defaults(handler=cmd_show)


def read_notebook(path: str) -> dict[str, Any]:
    """The notebook file as JSON (the server validates it as a notebook)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    try:
        notebook = json.loads(raw)
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not a notebook: it is not UTF-8 text.") from None
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{path} is not a notebook: invalid JSON ({exc.msg} at line {exc.lineno}, "
            f"column {exc.colno})."
        ) from None
    if not isinstance(notebook, dict):
        raise UsageError(f"{path} is not a notebook: its JSON is not an object.")
    return notebook


def cmd_publish(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    notebook = read_notebook(args.notebook)
    api = api_for(args)
    published = api.publish(
        notebook,
        args.name or Path(args.notebook).stem,
        script_id=args.script_id,
        rename=bool(args.name),
    )
    model = published.script
    if as_json(args):
        print_json(model)
        return EXIT_OK
    script_id = model["scriptId"]
    if published.created:
        print(f"Created script {model['name']!r}, version {model['version']}.")
    else:
        print(f"Published version {model['version']} of script {model['name']!r}.")
    print(f"ID:  {script_id}")
    print(f"Run: {api.run_url(script_id)}")
    print(f"     jupyter scripting run {script_id}")
    return EXIT_OK


def cmd_list(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    scripts = api_for(args).list_scripts()
    if as_json(args):
        print_json({"scripts": scripts, "moreElements": False})
        return EXIT_OK
    print_scripts(scripts)
    return EXIT_OK


def cmd_show(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    api = api_for(args)
    if args.openapi:
        print_json(api.script_openapi(args.script_id))
        return EXIT_OK
    script = api.script(args.script_id)
    schema = api.schema(args.script_id)
    if as_json(args):
        print_json({"script": script, "schema": schema})
        return EXIT_OK
    print_script(script, schema, api.run_url(script["scriptId"]))
    return EXIT_OK
