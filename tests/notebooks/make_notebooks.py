"""Write the small edge-case notebooks the tests publish (run once; files are committed)."""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

KS = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
notebooks = {
    "hello": [
        new_markdown_cell("# Hello\nThe vendor's example: answers `Hello <name>!`."),
        new_code_cell('name = request.json()["name"]\nprint(f"Hello {name}!")'),
    ],
    "echo": [
        new_markdown_cell(
            "Answers the request it was given, as JSON, and echoes the body's bytes in a header-free way."
        ),
        new_code_cell(
            "import base64, sys\n"
            "response.json({\n"
            '    "method": request.method,\n'
            '    "path": request.path,\n'
            '    "query": request.query,\n'
            '    "headers": dict(request.headers),\n'
            '    "content_type": request.content_type,\n'
            '    "body_b64": base64.b64encode(request.body).decode(),\n'
            '    "text": request.text,\n'
            '    "handover_imported_package": "jupyter_scripting" in sys.modules,\n'
            "})"
        ),
    ],
    "binary_echo": [
        new_code_cell(
            'response.content_type = "application/octet-stream"\nresponse.write(request.body)'
        ),
    ],
    "custom_answer": [
        new_code_cell(
            "response.status = 201\n"
            'response.content_type = "application/xml"\n'
            'response.headers["X-Custom"] = "yes"\n'
            'response.headers["Cache-Control"] = "no-store"\n'
            'response.headers["Set-Cookie"] = "session=stolen"\n'
            'response.headers["X-Bad\\r\\nInjected"] = "1"\n'
            'response.headers["X-Newline"] = "a\\r\\nSet-Cookie: x=1"\n'
            'response.write("<ok/>")'
        ),
    ],
    "rich": [
        new_code_cell(
            "from IPython.display import display\n"
            "class Report:\n"
            "    def _repr_html_(self):\n"
            '        return "<b>report</b>"\n'
            "    def _repr_json_(self):\n"
            '        return {"report": True}\n'
            "    def _repr_png_(self):\n"
            "        import base64\n"
            "        return base64.b64decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==')\n"
            "    def __repr__(self):\n"
            '        return "Report()"\n'
            "Report()"
        ),
    ],
    "nothing": [new_code_cell("x = 1")],
    "raises": [new_code_cell('print("before")'), new_code_cell('raise ValueError("bad input")')],
    "exits": [new_code_cell("import os\nos._exit(3)")],
    "sleeps": [
        new_code_cell(
            "import subprocess, os, time\n"
            'child = subprocess.Popen(["sleep", "600"])\n'
            'open("pids.txt", "w").write(f"{os.getpid()} {child.pid}")\n'
            "print(os.readlink('/proc/self/ns/pid'), os.getpid(), child.pid, flush=True)\n"
            "time.sleep(600)"
        )
    ],
    "environment": [
        new_code_cell(
            "import os, sys\n"
            "response.json({\n"
            '    "environ": dict(os.environ),\n'
            '    "argv": sys.argv,\n'
            '    "cwd": os.getcwd(),\n'
            '    "files": sorted(os.listdir(".")),\n'
            '    "headers": dict(request.headers),\n'
            '    "query": request.query,\n'
            '    "pid": os.getpid(),\n'
            '    "kernel": os.path.dirname(__import__("ipykernel.connect").connect.get_connection_file()),\n'
            "})"
        )
    ],
    "leave_traces": [
        new_code_cell(
            "import os\n"
            'seen = {"had_global": "MARKER" in globals(), "had_file": os.path.exists("marker.txt"),\n'
            '        "had_env": "SCRIPTING_MARKER" in os.environ, "pid": os.getpid(), "cwd": os.getcwd(),\n'
            '        "kernel": os.path.dirname(__import__("ipykernel.connect").connect.get_connection_file())}\n'
            "# How long the kernel's process had lived when this cell ran (boot-relative clock\n"
            "# ticks: the same in and out of a sandbox's PID namespace).\n"
            'started = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19])\n'
            'seen["age"] = float(open("/proc/uptime").read().split()[0]) - started / os.sysconf("SC_CLK_TCK")\n'
            "MARKER = 1\n"
            'open("marker.txt", "w").write("x")\n'
            'os.environ["SCRIPTING_MARKER"] = "1"\n'
            "response.json(seen)"
        )
    ],
    # Like papermill's own test notebooks (simple_execute, complex_parameters): a first cell
    # tagged "parameters" with defaults, then cells that use them; nothing of this service.
    "papermill_simple": [
        new_code_cell("# Parameters\nmsg = None\n", metadata={"tags": ["parameters"]}),
        new_code_cell("print(msg)"),
    ],
    "papermill_typed": [
        new_markdown_cell("Typed parameters, annotated or inferred from their defaults."),
        new_code_cell(
            "# Parameters\n"
            "a: float = 2.25  # Variable a\n"
            "b = 'hello'  # Nice variable b\n"
            "c: int = 0\n"
            "d: list[str] = ['a', 'b']  # Some strings\n"
            "e: bool = True\n"
            "f = None  # Anything at all\n",
            metadata={"tags": ["parameters"]},
        ),
        new_code_cell(
            'import json\nprint(json.dumps({"a": a, "b": b, "c": c, "d": d, "e": e, "f": f}))'
        ),
    ],
}
for name, cells in notebooks.items():
    nb = new_notebook(cells=cells, metadata={"kernelspec": KS})
    nbformat.validate(nb)
    nbformat.write(nb, Path(__file__).parent / f"{name}.ipynb")
print(len(notebooks))
