"""Write the demo notebooks of ``examples/`` (the files are committed; run this after an edit).

    python examples/make_notebooks.py

Each demo is a markdown cell saying what it does and how to call it, then its code. Cell ids
are fixed so that regenerating an unchanged demo leaves its file unchanged.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).parent
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}

#: How the markdown cells tell the reader where ``$BASE``, ``$TOKEN`` and ``$ID`` come from.
CALLING = """\
`$BASE` is the server's URL, `$TOKEN` its token, `$ID` the script's id (`make run` prints all
three; the Scripts panel shows the id). In a Binder terminal:
`export BASE=http://127.0.0.1:8888${JUPYTERHUB_SERVICE_PREFIX%/} TOKEN=$JUPYTERHUB_API_TOKEN`."""

HELLO = (
    """\
# Hello

The vendor's example: answers `Hello <name>!` as `text/plain`, the name taken from the JSON
body.

```console
curl -X POST -H "Authorization: token $TOKEN" -H "Content-Type: application/json" \\
     -d '{"name": "John Smith"}' $BASE/scripting/script/$ID/run
Hello John Smith!
```

"""
    + CALLING,
    'name = request.json()["name"]\nprint(f"Hello {name}!")',
)

JSON_API = (
    """\
# Temperature converter — a JSON API

Takes a JSON object `{"value": <number>, "unit": "C" | "F" | "K"}` and answers the same
temperature in Celsius, Fahrenheit and Kelvin as JSON. Anything else — a body that is not
JSON, a missing or mistyped field, an unknown unit or field, a temperature below absolute
zero — answers **422** with a JSON `{"message", "errors"}` saying exactly what is wrong.

```console
curl -X POST -H "Authorization: token $TOKEN" -H "Content-Type: application/json" \\
     -d '{"value": 21.5, "unit": "C"}' $BASE/scripting/script/$ID/run
{"value": 21.5, "unit": "C", "celsius": 21.5, "fahrenheit": 70.7, "kelvin": 294.65}

curl -i -X POST -H "Authorization: token $TOKEN" -H "Content-Type: application/json" \\
     -d '{"value": "hot"}' $BASE/scripting/script/$ID/run
HTTP/1.1 422 Unprocessable Entity
{"message": "value: must be a number, not a string; unit: missing", "errors": [...]}
```

"""
    + CALLING,
    '''\
import math

UNITS = ("C", "F", "K")
FIELDS = ("value", "unit")
JSON_TYPES = {str: "a string", bool: "a boolean", int: "a number", float: "a number",
              list: "an array", dict: "an object", type(None): "null"}


def to_kelvin(value, unit):
    return {"C": value + 273.15, "F": (value - 32) * 5 / 9 + 273.15, "K": value}[unit]


def problems(payload):
    """What is wrong with the request's JSON, as [{"field", "error"}] (empty if nothing)."""
    if not isinstance(payload, dict):
        return [{"field": None, "error": "the body must be a JSON object like "
                 '{"value": 21.5, "unit": "C"}, not ' + JSON_TYPES.get(type(payload), "that")}]
    errors = [{"field": name, "error": "unknown field (the fields are value and unit)"}
              for name in payload if name not in FIELDS]
    value, unit = payload.get("value"), payload.get("unit")
    if "value" not in payload:
        errors.append({"field": "value", "error": "missing"})
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = JSON_TYPES[type(value)]
        errors.append({"field": "value", "error": f"must be a number, not {kind}"})
    elif not math.isfinite(value):
        errors.append({"field": "value", "error": f"must be a finite number, not {value}"})
    if "unit" not in payload:
        errors.append({"field": "unit", "error": "missing"})
    elif unit not in UNITS:
        errors.append({"field": "unit", "error": f"must be one of C, F, K, not {unit!r}"})
    if not errors and to_kelvin(value, unit) < 0:
        errors.append({"field": "value", "error": f"{value} {unit} is below absolute zero"})
    return errors''',
    """\
try:
    payload = request.json()
except ValueError as error:
    errors = [{"field": None, "error": f"the body is not valid JSON: {error}"}]
else:
    errors = problems(payload)

if errors:
    response.status = 422
    response.json({
        "message": "; ".join(e["error"] if e["field"] is None else f"{e['field']}: {e['error']}"
                             for e in errors),
        "errors": errors,
    })
else:
    kelvin = to_kelvin(payload["value"], payload["unit"])
    response.json({
        "value": payload["value"],
        "unit": payload["unit"],
        "celsius": round(kelvin - 273.15, 2),
        "fahrenheit": round((kelvin - 273.15) * 9 / 5 + 32, 2),
        "kelvin": round(kelvin, 2),
    })""",
)

HTML_REPORT = (
    """\
# Savings report — an HTML page

Answers a `text/html` page with a table: how a deposit grows with compound interest, year
by year. Query parameters: `principal` (default 1000), `rate` in percent a year (default
5), `years` (1 to 50, default 10). A parameter that is not a number, or out of range,
answers **422** JSON with a message.

```console
curl -H "Authorization: token $TOKEN" \\
     "$BASE/scripting/script/$ID/run?principal=2500&rate=3.5&years=5"
<!DOCTYPE html> … <table> … </table> …
```

Open the same URL in a browser tab of your JupyterLab session to see the page (the server
serves script answers sandboxed: no JavaScript runs).

"""
    + CALLING,
    """\
import html
import math


def parameter(name, default, low, high, integer=False):
    raw = request.query.get(name, [str(default)])[-1]
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        value = math.nan
    if not low <= value <= high:  # also false for nan
        kind = "a whole number" if integer else "a number"
        raise ValueError(f"{name} must be {kind} from {low} to {high}, not {raw!r}")
    return value""",
    """\
try:
    principal = parameter("principal", 1000, 0, 1e12)
    rate = parameter("rate", 5, -100, 100)
    years = parameter("years", 10, 1, 50, integer=True)
except ValueError as error:
    response.status = 422
    response.json({"message": str(error)})
else:
    rows, balance = [], principal
    for year in range(1, years + 1):
        interest = balance * rate / 100
        balance += interest
        rows.append(f"<tr><td>{year}</td><td>{interest:,.2f}</td><td>{balance:,.2f}</td></tr>")
    response.content_type = "text/html; charset=utf-8"
    response.write(f'''<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Savings report</title>
<style>body {{ font-family: sans-serif; }} td, th {{ padding: 2px 12px; text-align: right; }}
tr:nth-child(even) {{ background: #f0f0f0; }}</style></head>
<body><h1>Savings report</h1>
<p>{html.escape(f"{principal:,.2f}")} at {rate:g} % a year for {years} years:
<strong>{balance:,.2f}</strong> at the end.</p>
<table><thead><tr><th>Year</th><th>Interest</th><th>Balance</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table></body></html>''')""",
)

CHART = (
    """\
# Bar chart — an image chosen by `Accept`

Draws a bar chart of the numbers in the query parameter `values` (comma-separated, at most
50; default `3,1,4,1,5,9,2,6`) with an optional `title`. The figure is the notebook's last
rich output, offered as PNG, SVG and text: the caller picks one with `Accept`
(`image/png`, `image/svg+xml`); without `Accept` the richest, SVG, wins. Values that are not
numbers answer **422** JSON with a message.

```console
curl -H "Authorization: token $TOKEN" -H "Accept: image/png" \\
     "$BASE/scripting/script/$ID/run?values=4,8,15,16,23,42&title=Numbers" > chart.png
```

"""
    + CALLING,
    """\
import matplotlib

matplotlib.use("Agg")  # render off-screen: a script's kernel has no display

from IPython.display import display
from matplotlib.figure import Figure
from matplotlib_inline.backend_inline import set_matplotlib_formats

# A displayed Figure then offers PNG and SVG (and text): the caller's Accept picks one.
set_matplotlib_formats("png", "svg")""",
    """\
raw = request.query.get("values", ["3,1,4,1,5,9,2,6"])[-1]
title = request.query.get("title", ["Values"])[-1]
try:
    values = [float(v) for v in raw.split(",")]
    if not 1 <= len(values) <= 50:
        raise ValueError(f"{len(values)} values")
except ValueError:
    response.status = 422
    response.json({"message": f"values must be 1 to 50 comma-separated numbers, not {raw!r}"})
else:
    fig = Figure(figsize=(6, 3.5), dpi=100, layout="tight")
    ax = fig.subplots()
    ax.bar(range(1, len(values) + 1), values, color="#4c72b0")
    ax.set_title(title)
    ax.set_xlabel("#")
    display(fig)""",
)

SLOW_JOB = (
    """\
# Slow job — for the background route

Works for a few seconds (query parameter `seconds`, default 5, at most 30 — well below the
service's timeouts), printing its progress, then answers JSON. Call it through
`/background`: the answer is **202** with an `executionId` at once, and the result is in the
execution log when the job is done (the log's content answers **202** while it runs).

```console
curl -X POST -H "Authorization: token $TOKEN" "$BASE/scripting/script/$ID/background?seconds=8"
{"executionId": "…"}
curl -H "Authorization: token $TOKEN" $BASE/scripting/log/script/$ID/execution/<executionId>
{"executionId": "…", "state": "running"}          # 202 while it runs, then:
{"message": "done", "seconds": 8.0, "steps": 8, …}
```

More than 30 seconds is clamped to 30 (the answer then says `"capped": true`); a negative
or non-numeric `seconds` answers **422** JSON with a message.

"""
    + CALLING,
    """\
import math
import time

MAX_SECONDS = 30.0
raw = request.query.get("seconds", ["5"])[-1]
try:
    requested = float(raw)
except ValueError:
    requested = math.nan""",
    """\
if not 0 <= requested < math.inf:
    response.status = 422
    response.json({"message": f"seconds must be a number, 0 or more, not {raw!r}"})
else:
    seconds = min(requested, MAX_SECONDS)
    steps = max(1, math.ceil(seconds))
    started = time.monotonic()
    total = 0
    for step in range(1, steps + 1):
        time.sleep(seconds / steps)
        total += sum(i * i for i in range(10_000))  # a little real work per step
        print(f"step {step}/{steps} after {time.monotonic() - started:.1f} s", flush=True)
    response.json({
        "message": "done",
        "requested": requested,
        "seconds": round(time.monotonic() - started, 2),
        "capped": requested > MAX_SECONDS,
        "steps": steps,
        "checksum": total,
    })""",
)

#: file name → (markdown, code cells...)
GREETING = (
    """\
# Greeting — typed parameters, the papermill way

Its first code cell is tagged `parameters` (as for papermill): a run's JSON body (or query
string) sets `name`, `count` and `shout`, checked against their types; a wrong type or an
unknown name answers **422** listing each problem before any kernel starts. It prints a
line a second, so a background run shows its progress live.

```console
curl -X POST -H "Authorization: token $TOKEN" -H "Content-Type: application/json" \\
     -d '{"name": "Ada", "count": 2}' $BASE/scripting/script/$ID/run
Hello Ada! Hello Ada!

curl -H "Authorization: token $TOKEN" $BASE/scripting/script/$ID/schema   # its JSON Schema
curl -N -H "Authorization: token $TOKEN" \\
     $BASE/scripting/log/script/$ID/execution/$EID/events     # a run's live output
```

"""
    + CALLING,
    'name = "World"  # Whom to greet\ncount: int = 3  # How many times (1 to 10)\n'
    "shout: bool = False",
    "import time\n\n"
    "if not 1 <= count <= 10:\n"
    "    response.status = 422\n"
    '    response.json({"message": "count must be between 1 and 10"})\n'
    "else:\n"
    "    greetings = []\n"
    "    for i in range(count):\n"
    '        greeting = f"Hello {name}!"\n'
    "        greetings.append(greeting.upper() if shout else greeting)\n"
    '        print(f"greeting {i + 1} of {count}", flush=True)\n'
    "        if i + 1 < count:\n"
    "            time.sleep(1)\n"
    '    response.write(" ".join(greetings))',
)

DEMOS: dict[str, tuple[str, ...]] = {
    "hello": HELLO,
    "json_api": JSON_API,
    "html_report": HTML_REPORT,
    "chart": CHART,
    "slow_job": SLOW_JOB,
    "greeting": GREETING,
}
#: Demos whose first code cell is tagged ``parameters`` (README, "Parameters").
PARAMETERISED = ("greeting",)


def build(name: str, parts: tuple[str, ...]) -> nbformat.NotebookNode:
    """The demo notebook ``name``: a markdown cell, then one code cell per part."""
    markdown, *code = parts
    cells = [new_markdown_cell(markdown, id=f"{name}-about")]
    cells += [new_code_cell(src, id=f"{name}-{i}") for i, src in enumerate(code, 1)]
    if name in PARAMETERISED:
        cells[1].metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC})
    nbformat.validate(nb)
    return nb


def main() -> None:
    """Write every demo notebook next to this file."""
    for name, parts in DEMOS.items():
        nbformat.write(build(name, parts), HERE / f"{name}.ipynb")
        print(HERE / f"{name}.ipynb")


if __name__ == "__main__":
    main()
