"""The code that runs inside the kernel before the script's first cell.

This file is not imported by the server: its *source text* is sent to the kernel, so
it must depend on the standard library only (the kernel may live in another
environment, without jupyter_scripting installed). It defines one function,
``__jupyter_scripting_install__``, which the runner calls with the request as
base64-encoded JSON; it puts ``request`` and ``response`` (and ``secrets``, the tenant
variables the script asks for, also set in ``os.environ``) into the user namespace
and keeps its own reference (``__jupyter_scripting__``) that the runner reads back
after the last cell, so a script that rebinds ``response`` cannot confuse it.

The request also carries the server's output cap (``ScriptingApp.max_output_size``):
``response.write()`` refuses to grow the body past it, and stdout/stderr pass text on
only up to just past it, so the kernel never ships the server one huge stream message
(the server counts every output too, and stops the run once the cap is crossed).
"""


def __jupyter_scripting_install__(payload, namespace):
    import base64
    import contextlib
    import json
    import sys
    import threading
    from collections.abc import Mapping, MutableMapping

    class Headers(MutableMapping):
        """Case-insensitive header mapping; keeps the spelling of the last set."""

        def __init__(self, pairs=()):
            self._items = {}
            for key, value in pairs:
                self[key] = value

        def __getitem__(self, key):
            return self._items[key.lower()][1]

        def __setitem__(self, key, value):
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError("header names and values must be str")
            self._items[key.lower()] = (key, value)

        def __delitem__(self, key):
            del self._items[key.lower()]

        def __iter__(self):
            return (key for key, _ in self._items.values())

        def __len__(self):
            return len(self._items)

        def __repr__(self):
            return f"Headers({dict(self.items())!r})"

    def charset_of(content_type):
        for part in (content_type or "").split(";")[1:]:
            name, _, value = part.strip().partition("=")
            if name.strip().lower() == "charset" and value.strip():
                return value.strip().strip('"')
        return "utf-8"

    class Request:
        """The HTTP request that started this run (credentials removed)."""

        def __init__(self, data):
            self.method = data["method"]
            self.path = data["path"]
            self.query = {key: list(values) for key, values in data["query"].items()}
            self.headers = Headers(data["headers"])
            self.body = base64.b64decode(data["body"])
            self.execution_id = data["execution_id"]

        @property
        def content_type(self):
            """The request's ``Content-Type`` without parameters, or ``None``."""
            value = self.headers.get("Content-Type")
            return value.split(";")[0].strip().lower() if value else None

        @property
        def text(self):
            """The body decoded with the request's charset (UTF-8 by default)."""
            try:
                return self.body.decode(charset_of(self.headers.get("Content-Type")), "replace")
            except LookupError:
                return self.body.decode("utf-8", "replace")

        def json(self):
            """The body parsed as JSON (``ValueError`` if it is not JSON)."""
            return json.loads(self.body.decode("utf-8-sig") if self.body else "null")

        def __repr__(self):
            return f"<Request {self.method} {self.path} ({len(self.body)} bytes)>"

    class ResponseTooLarge(Exception):
        """``response.write()`` past the most this server lets a run answer."""

    class Response:
        """What the script answers: status, headers, content type and body."""

        def __init__(self, max_size=None):
            self.status = 200
            self.headers = Headers()
            self.content_type = None
            self._chunks = []
            self._written = False
            self._size = 0
            self._max_size = max_size
            self._too_large = False

        def write(self, data):
            """Append ``data`` (``str`` is encoded as UTF-8) to the body."""
            if isinstance(data, str):
                data = data.encode("utf-8")
            elif isinstance(data, (bytearray, memoryview)):
                data = bytes(data)
            elif not isinstance(data, bytes):
                raise TypeError(f"response.write() takes str or bytes, not {type(data).__name__}")
            if self._max_size is not None and self._size + len(data) > self._max_size:
                # Remembered, so the run fails even if the script catches this.
                self._too_large = True
                raise ResponseTooLarge(
                    f"response.write(): the body would grow past {self._max_size} bytes, the "
                    "most this server lets a run answer (ScriptingApp.max_output_size)"
                )
            self._chunks.append(data)
            self._size += len(data)
            self._written = True

        def json(self, obj):
            """Answer ``obj`` as JSON (sets the content type unless one was set)."""
            if self.content_type is None:
                self.content_type = "application/json"
            self.write(json.dumps(obj))

        def __repr__(self):
            return f"<Response {self.status}>"

    class State:
        def __init__(self, request, response):
            self.request = request
            self.response = response

        def dump(self):
            response = self.response
            status = response.status
            content_type = response.content_type
            return base64.b64encode(
                json.dumps(
                    {
                        "status": status if isinstance(status, int) else repr(status),
                        "headers": [[str(k), str(v)] for k, v in response.headers.items()],
                        "content_type": None if content_type is None else str(content_type),
                        "written": response._written,
                        "too_large": response._too_large,
                        "body": base64.b64encode(b"".join(response._chunks)).decode("ascii"),
                    }
                ).encode("utf-8")
            ).decode("ascii")

    class Secrets(Mapping):
        """The tenant variables this script asked for (``PATCH {"variables": [...]}``),
        by name; also in ``os.environ``. Its ``repr`` names them, never shows a value."""

        def __init__(self, values, missing):
            self._values = dict(values)
            self._missing = frozenset(missing)

        def __getitem__(self, name):
            try:
                return self._values[name]
            except KeyError:
                if name in self._missing:
                    problem = "the script asks for it, but its tenant has not set it"
                else:
                    problem = 'the script does not ask for it (PATCH its "variables")'
                raise KeyError(f"{name}: {problem}") from None

        def __iter__(self):
            return iter(self._values)

        def __len__(self):
            return len(self._values)

        def __repr__(self):
            return f"Secrets({sorted(self._values)!r})"

    def cap_streams(names, limit):
        """Let stdout/stderr pass text on until ``limit`` bytes (both together) and just
        past it, so the server sees the cap crossed and stops the run; drop the rest.
        Best effort: a stream whose ``write`` cannot be replaced is left as it is."""
        passed = [0]
        # Our wrapper can end up around another that calls an inner one of ours (IPython
        # wraps the stream around each cell): only the outermost call counts the text.
        inside = threading.local()

        def capped(write):
            def capped_write(text):
                if not isinstance(text, str) or getattr(inside, "active", False):
                    return write(text)  # the stream's own error, or counted outside
                inside.active = True
                try:
                    if passed[0] > limit:
                        return len(text)
                    size = len(text)
                    if not text.isascii():
                        size = len(text.encode("utf-8", "surrogatepass"))
                    room = limit - passed[0]
                    passed[0] += size
                    if size > room:
                        write(text[: max(room, 0) + 1])
                        return len(text)
                    return write(text)
                finally:
                    inside.active = False

            capped_write.jupyter_scripting_capped = True  # type: ignore[attr-defined]
            return capped_write

        def wrap(*_):
            for name in names:
                stream = getattr(sys, name, None)
                write = getattr(stream, "write", None)
                if write is not None and not getattr(write, "jupyter_scripting_capped", False):
                    with contextlib.suppress(AttributeError, TypeError):
                        stream.write = capped(write)  # type: ignore[union-attr]

        wrap()
        # IPython 9 swaps each stream's write for a copy-to-history one during every cell,
        # and puts the one it saved back afterwards: wrap again as each cell starts.
        shell = namespace.get("get_ipython", lambda: None)()
        if shell is not None:
            with contextlib.suppress(Exception):
                shell.events.register("pre_run_cell", wrap)

    for cls in (Headers, Request, ResponseTooLarge, Response, State, Secrets):
        cls.__qualname__ = cls.__name__
        cls.__module__ = "jupyter_scripting"

    data = json.loads(base64.b64decode(payload))
    max_output_size = data.get("max_output_size")
    state = State(Request(data), Response(max_output_size))
    if max_output_size is not None:
        cap_streams(("stdout", "stderr"), max_output_size)
    namespace["request"] = state.request
    namespace["response"] = state.response
    variables = data.get("variables") or {}
    if variables:
        import os

        os.environ.update(variables)
    namespace["secrets"] = Secrets(variables, data.get("missing_variables") or ())
    namespace["__jupyter_scripting__"] = state
