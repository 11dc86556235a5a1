"""The demo notebooks of ``examples/`` (what ``make run`` and Binder publish) behave as their
markdown cells say, through the normal server."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import nbformat
import pytest

from .conftest import Fetch
from .helpers import body_json
from .server_process import ServerProcess

EXAMPLES = Path(__file__).parent.parent / "examples"
DEMOS = ("hello", "json_api", "html_report", "chart", "slow_job", "greeting")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

Publish = Callable[..., Awaitable[str]]


def example(name: str) -> dict[str, Any]:
    """A demo notebook of examples/ as a plain dict."""
    return dict(json.loads((EXAMPLES / f"{name}.ipynb").read_text(encoding="utf-8")))


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def run(api: Fetch, script_id: str, **kwargs: Any) -> Any:
    kwargs.setdefault("method", "POST")
    return await api("scripting", "script", script_id, "run", **kwargs)


@pytest.mark.parametrize("name", DEMOS)
def test_demo_is_a_valid_notebook_that_says_how_to_call_it(name: str) -> None:
    nb = nbformat.read(EXAMPLES / f"{name}.ipynb", as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    assert nb.metadata.kernelspec.name == "python3"
    first, *rest = nb.cells
    assert first.cell_type == "markdown"
    assert "curl" in first.source
    assert rest
    assert all(cell.cell_type == "code" and not cell.outputs for cell in rest)


def test_demos_are_what_make_notebooks_writes() -> None:
    """The committed files are the generator's output (an edit to one is not lost)."""
    generator = load_module(EXAMPLES / "make_notebooks.py")
    assert tuple(generator.DEMOS) == DEMOS
    for name, parts in generator.DEMOS.items():
        assert generator.build(name, parts) == nbformat.read(
            EXAMPLES / f"{name}.ipynb", as_version=4
        ), f"examples/{name}.ipynb differs from make_notebooks.py: run it again"


def test_run_demo_lists_every_demo() -> None:
    run_demo = load_module(EXAMPLES / "run_demo.py")
    assert sorted(run_demo.DEMOS) == sorted(DEMOS)
    assert all(path.exists() for path in run_demo.DEMOS.values())


async def test_hello_answers_the_vendor_example(api: Fetch, publish: Publish) -> None:
    script_id = await publish(example("hello"), "hello")
    answer = await run(api, script_id, body=json.dumps({"name": "John Smith"}))
    assert answer.code == 200, answer.body
    assert answer.body == b"Hello John Smith!"
    assert answer.headers["Content-Type"].startswith("text/plain")


async def test_json_api_converts_a_valid_temperature(api: Fetch, publish: Publish) -> None:
    script_id = await publish(example("json_api"), "json-api")
    answer = await run(api, script_id, body=json.dumps({"value": 21.5, "unit": "C"}))
    assert answer.code == 200, answer.body
    assert answer.headers["Content-Type"].startswith("application/json")
    assert body_json(answer) == {
        "value": 21.5,
        "unit": "C",
        "celsius": 21.5,
        "fahrenheit": 70.7,
        "kelvin": 294.65,
    }
    answer = await run(api, script_id, body=json.dumps({"value": 212, "unit": "F"}))
    assert body_json(answer)["celsius"] == 100.0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "the body is not valid JSON: Expecting property name enclosed in double"),
        ("", "the body must be a JSON object like"),
        ("[1, 2]", "the body must be a JSON object like"),
        ('{"value": "hot"}', "value: must be a number, not a string; unit: missing"),
        ('{"value": 10, "unit": "X", "extra": 1}', "extra: unknown field"),
        ('{"value": -300, "unit": "C"}', "value: -300 C is below absolute zero"),
        ('{"value": NaN, "unit": "K"}', "value: must be a finite number, not nan"),
    ],
)
async def test_json_api_answers_422_saying_what_is_wrong(
    api: Fetch, publish: Publish, body: str, message: str
) -> None:
    script_id = await publish(example("json_api"), "json-api")
    answer = await run(api, script_id, body=body, headers={"Content-Type": "application/json"})
    assert answer.code == 422, answer.body
    assert answer.headers["Content-Type"].startswith("application/json")
    document = body_json(answer)
    assert document["message"].startswith(message), document
    assert document["errors"]
    if "unit" in body and '"X"' in body:
        assert "unit: must be one of C, F, K, not 'X'" in document["message"]


async def test_html_report_answers_a_table(api: Fetch, publish: Publish) -> None:
    script_id = await publish(example("html_report"), "html-report")
    answer = await run(
        api, script_id, method="GET", params={"principal": "2000", "rate": "10", "years": "3"}
    )
    assert answer.code == 200, answer.body
    assert answer.headers["Content-Type"].startswith("text/html")
    page = answer.body.decode()
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<tr><td>") == 3
    # 2000 * 1.1 ** 3
    assert "<tr><td>3</td><td>242.00</td><td>2,662.00</td></tr>" in page


async def test_html_report_answers_422_on_a_bad_parameter(api: Fetch, publish: Publish) -> None:
    script_id = await publish(example("html_report"), "html-report")
    answer = await run(api, script_id, method="GET", params={"years": "many"})
    assert answer.code == 422, answer.body
    assert body_json(answer) == {"message": "years must be a whole number from 1 to 50, not 'many'"}


async def test_chart_answers_png_or_svg_by_accept(api: Fetch, publish: Publish) -> None:
    script_id = await publish(example("chart"), "chart")
    params = {"values": "4,8,15,16,23,42", "title": "Numbers"}
    png = await run(api, script_id, method="GET", params=params, headers={"Accept": "image/png"})
    assert png.code == 200, png.body[:500]
    assert png.headers["Content-Type"] == "image/png"
    assert png.body.startswith(PNG_SIGNATURE)
    assert len(png.body) > 5000  # a real figure, not a placeholder

    svg = await run(api, script_id, method="GET", params=params)
    assert svg.code == 200
    assert svg.headers["Content-Type"].startswith("image/svg+xml")
    assert b"<svg" in svg.body

    bad = await run(api, script_id, method="GET", params={"values": "1,two"})
    assert bad.code == 422
    message = "values must be 1 to 50 comma-separated numbers, not '1,two'"
    assert body_json(bad) == {"message": message}


async def test_slow_job_in_the_background(api: Fetch, publish: Publish) -> None:
    script_id = await publish(example("slow_job"), "slow-job")
    queued = await api(
        "scripting",
        "script",
        script_id,
        "background",
        method="POST",
        params={"seconds": "1.5"},
    )
    assert queued.code == 202, queued.body
    execution_id = body_json(queued)["executionId"]
    log = ("scripting", "log", "script", script_id, "execution", execution_id)
    deadline = time.monotonic() + 60
    seen_unfinished = False
    while (answer := await api(*log)).code == 202:
        seen_unfinished = True
        assert time.monotonic() < deadline, body_json(answer)
        await asyncio.sleep(0.2)
    assert seen_unfinished  # it took its time: the log said so before it was done
    assert answer.code == 200, answer.body
    result = body_json(answer)
    assert result["message"] == "done"
    assert result["requested"] == 1.5
    assert result["steps"] == 2
    assert result["capped"] is False
    assert 1.5 <= result["seconds"] < 10

    # Its progress is in the executed notebook.
    notebook = body_json(await api(*log, "notebook"))
    printed = "".join(
        "".join(output.get("text", ""))
        for cell in notebook["cells"]
        for output in cell.get("outputs", [])
    )
    assert "step 2/2" in printed


async def test_slow_job_answers_422_on_bad_seconds(api: Fetch, publish: Publish) -> None:
    script_id = await publish(example("slow_job"), "slow-job")
    for seconds in ("-1", "soon", "nan"):
        answer = await run(api, script_id, params={"seconds": seconds})
        assert answer.code == 422
        assert body_json(answer) == {
            "message": f"seconds must be a number, 0 or more, not {seconds!r}"
        }


def test_publish_only_publishes_every_demo_once_by_name(tmp_path: Path) -> None:
    """What Binder's postBuild runs: a temporary server publishes into the default store and
    is gone afterwards; run again, it makes new versions of the same scripts, not copies."""
    env = {
        **os.environ,
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    command = [sys.executable, str(EXAMPLES / "run_demo.py"), "--publish-only"]
    printed = []
    for _ in range(2):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=100)
        assert done.returncode == 0, done.stdout + done.stderr
        printed.append(done.stdout)
    assert printed[0] == printed[1]  # the same names and ids
    assert printed[0].startswith("Published 6 demo scripts into the default store:")
    # A server removes its jpserver-<pid>.json when it has shut down: none is left running.
    assert not list((tmp_path / "runtime").glob("jpserver-*.json"))
    assert (tmp_path / "data" / "scripting" / "jupyter_scripting.sqlite").is_file()

    server = ServerProcess(tmp_path)  # the same data directory, so the same default store
    try:
        server.start()
        status, body = server.call("scripting/script")
        assert status == 200
        scripts = json.loads(body)["scripts"]
        assert {s["name"]: s["version"] for s in scripts} == dict.fromkeys(DEMOS, 2)
        assert all(s["scriptId"] in printed[0] for s in scripts)
    finally:
        server.stop()


async def test_greeting_takes_typed_parameters_and_names_each_wrong_one(
    api: Fetch, publish: Publish
) -> None:
    script_id = await publish(example("greeting"), "greeting")
    answer = await api(
        "scripting",
        "script",
        script_id,
        "run",
        method="POST",
        body=json.dumps({"name": "Ada", "count": 2}),
        headers={"Content-Type": "application/json"},
    )
    assert answer.code == 200, answer.body
    assert answer.body == b"Hello Ada! Hello Ada!"
    refused = await api(
        "scripting",
        "script",
        script_id,
        "run",
        method="POST",
        body=json.dumps({"count": "two", "colour": "red"}),
        headers={"Content-Type": "application/json"},
    )
    assert refused.code == 422
    assert [p["name"] for p in body_json(refused)["problems"]] == ["count", "colour"]
    schema = body_json(await api("scripting", "script", script_id, "schema"))
    assert schema["properties"]["count"] == {
        "type": "integer",
        "default": 3,
        "description": "How many times (1 to 10)",
        "x-python": "count: int = 3",
    }
