"""Turning an executed notebook and the script's ``response`` into one HTTP answer.

Precedence (README, "3. Call it"): what the script wrote through ``response``; else everything it
printed to stdout; else the last rich output (``execute_result``/``display_data``),
its MIME type chosen by the request's ``Accept``; else an empty 204. Printed output
loses the one trailing newline ``print()`` adds, so ``print("Hello")`` answers ``Hello``.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import BadScriptAnswer

#: The order in which MIME types of a rich output are preferred when ``Accept``
#: does not decide (absent, ``*/*``, or nothing acceptable).
MIME_PREFERENCE = (
    "application/json",
    "text/html",
    "image/svg+xml",
    "image/png",
    "image/jpeg",
    "image/gif",
    "text/markdown",
    "text/latex",
    "text/plain",
)
#: MIME types whose notebook representation is base64 text.
BINARY_MIMES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"})

#: Response headers a script may set besides any ``X-...`` header. Everything else
#: (``Set-Cookie``, framing and hop-by-hop headers, the security headers the server
#: sets itself) is dropped and the drop is logged.
ALLOWED_HEADERS = frozenset(
    {
        "access-control-allow-credentials",
        "access-control-allow-headers",
        "access-control-allow-methods",
        "access-control-allow-origin",
        "access-control-expose-headers",
        "access-control-max-age",
        "cache-control",
        "content-disposition",
        "content-language",
        "etag",
        "expires",
        "last-modified",
        "link",
        "location",
        "pragma",
        "retry-after",
        "vary",
        "www-authenticate",
    }
)
#: ``X-`` headers the server owns.
RESERVED_X_HEADERS = frozenset(
    {"x-execution-id", "x-content-type-options", "x-frame-options", "x-xsrftoken"}
)
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_FORBIDDEN_VALUE_CHARS = re.compile(r"[\r\n\x00]")


@dataclass
class Answer:
    """The HTTP answer of a run, before the server's own headers are added."""

    status: int
    content_type: str | None
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)
    dropped_headers: list[str] = field(default_factory=list)


def filter_headers(pairs: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[str]]:
    """Keep the allowed, well-formed headers; return them and the names dropped."""
    kept: list[tuple[str, str]] = []
    dropped: list[str] = []
    for name, value in pairs:
        lower = name.lower()
        allowed = lower in ALLOWED_HEADERS or (
            lower.startswith("x-") and lower not in RESERVED_X_HEADERS
        )
        if allowed and _TOKEN.match(name) and not _FORBIDDEN_VALUE_CHARS.search(value):
            kept.append((name, value))
        else:
            dropped.append(name)
    return kept, dropped


def _parse_accept(accept: str | None) -> list[tuple[str, float, int]]:
    """``Accept`` as (range, quality, position), best first; empty when absent."""
    if not accept:
        return []
    ranges: list[tuple[str, float, int]] = []
    for position, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        if not media:
            continue
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranges.append((media.lower(), quality, position))
    return ranges


def _specificity(media_range: str) -> int:
    if media_range == "*/*":
        return 0
    if media_range.endswith("/*"):
        return 1
    return 2


def choose_mime(available: list[str], accept: str | None) -> str:
    """The MIME type among ``available`` that best fits ``accept``."""
    ranked = sorted(
        available,
        key=lambda m: MIME_PREFERENCE.index(m) if m in MIME_PREFERENCE else len(MIME_PREFERENCE),
    )
    ranges = _parse_accept(accept)
    best: tuple[float, int, int, int] | None = None
    chosen = ranked[0]
    for preference, mime in enumerate(ranked):
        # The most specific matching range decides a type's quality (RFC 9110 §12.5.1).
        matches = [
            (q, _specificity(r), pos)
            for r, q, pos in ranges
            if r == mime or r == "*/*" or (r.endswith("/*") and mime.startswith(r[:-1]))
        ]
        if not matches:
            continue
        quality, specificity, position = max(matches, key=lambda m: (m[1], m[0]))
        if quality <= 0:
            continue
        score = (quality, specificity, -position, -preference)
        if best is None or score > best:
            best, chosen = score, mime
    return chosen


def _mime_bytes(mime: str, value: Any) -> bytes:
    if isinstance(value, list):
        value = "".join(value)
    if mime in BINARY_MIMES and isinstance(value, str):
        return base64.b64decode(value)
    if mime == "application/json" or mime.endswith("+json"):
        return json.dumps(value).encode("utf-8")
    return str(value).encode("utf-8")


def _with_charset(mime: str) -> str:
    return f"{mime}; charset=utf-8" if mime.startswith("text/") else mime


def outputs_of(cells: list[Any]) -> tuple[str, dict[str, Any] | None]:
    """Everything printed to stdout, and the data of the last rich output."""
    stdout: list[str] = []
    rich: dict[str, Any] | None = None
    for cell in cells:
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            kind = output.get("output_type")
            if kind == "stream" and output.get("name") == "stdout":
                text = output.get("text", "")
                stdout.append("".join(text) if isinstance(text, list) else text)
            elif kind in ("execute_result", "display_data") and output.get("data"):
                rich = output["data"]
    return "".join(stdout), rich


def build_answer(dump: dict[str, Any] | None, cells: list[Any], accept: str | None) -> Answer:
    """The answer of a run that executed fully; ``dump`` is the kernel-side state."""
    dump = dump or {"status": 200, "headers": [], "content_type": None, "written": False}
    status = dump.get("status")
    if not isinstance(status, int) or isinstance(status, bool) or not 200 <= status <= 599:
        raise BadScriptAnswer(
            f"The script set response.status to {status!r}: it must be an int from 200 to 599."
        )
    pairs = [(str(k), str(v)) for k, v in dump.get("headers", [])]
    content_type = dump.get("content_type")
    for name, value in pairs:
        if name.lower() == "content-type" and content_type is None:
            content_type = value
    pairs = [(k, v) for k, v in pairs if k.lower() != "content-type"]
    if content_type is not None and (
        not isinstance(content_type, str) or _FORBIDDEN_VALUE_CHARS.search(content_type)
    ):
        raise BadScriptAnswer(f"The script set an invalid response.content_type {content_type!r}.")
    headers, dropped = filter_headers(pairs)
    if dump.get("written"):
        body = base64.b64decode(dump.get("body", ""))
        answer = Answer(status, content_type or "text/plain; charset=utf-8", body)
    else:
        stdout, rich = outputs_of(cells)
        if stdout:
            # print() ends every line; the answer should not end with an extra newline.
            stdout = stdout[:-1] if stdout.endswith("\n") else stdout
            answer = Answer(status, content_type or "text/plain; charset=utf-8", stdout.encode())
        elif rich:
            mime = choose_mime(list(rich), accept)
            answer = Answer(
                status, content_type or _with_charset(mime), _mime_bytes(mime, rich[mime])
            )
        else:
            answer = Answer(204 if status == 200 else status, None, b"")
    if answer.status in (204, 304):
        answer.body, answer.content_type = b"", None
    answer.headers, answer.dropped_headers = headers, dropped
    return answer
