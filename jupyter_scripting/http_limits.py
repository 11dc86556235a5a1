"""The HTTP size limits of the /scripting routes (``ScriptingApp.max_header_size`` and
``max_body_size``): how a request is measured, the 431/413 it hears past them, and the
tuning of Tornado's own header limit that lets such a request be answered at all.
"""

from __future__ import annotations

import logging
from typing import Any

from tornado import httputil

from .errors import BodyTooLarge, HeadersTooLarge

#: Tornado's own default header limit: above it the connection is closed unanswered.
TORNADO_DEFAULT_MAX_HEADER_SIZE = 64 * 1024


def request_header_size(request: httputil.HTTPServerRequest) -> int:
    """The size of the request's head as sent, in bytes: the request line, one
    ``Name: value`` line per header (repeated headers count once per line), each ended
    by CRLF, and the blank line. Tornado decodes the head as Latin-1, so characters are
    bytes; only whitespace around values (and obsolete line folding) is not counted."""
    size = len(request.method or "") + len(request.uri or "") + len(request.version) + 4
    for name, value in request.headers.get_all():
        size += len(name) + len(value) + 4
    return size + 2


def request_body_size(request: httputil.HTTPServerRequest) -> int:
    """The body's size: what arrived, or what ``Content-Length`` announces if that is
    more (a streaming handler's ``prepare()`` runs before the body is read)."""
    declared = request.headers.get("Content-Length", "").strip()
    announced = int(declared) if declared.isascii() and declared.isdigit() else 0
    received = len(request.body) if isinstance(request.body, bytes) else 0
    return max(announced, received)


def tornado_header_limit(max_header_size: int) -> int:
    """The header limit Tornado itself gets: a margin above ours, so that requests a
    little over ``max_header_size`` hear 431 instead of a dropped connection, while
    what Tornado buffers before any handler runs stays bounded."""
    return max(2 * max_header_size, max_header_size + TORNADO_DEFAULT_MAX_HEADER_SIZE)


def widen_header_limit(serverapp: Any, max_header_size: int, log: logging.Logger) -> int | None:
    """Raise the Jupyter server's Tornado header limit to :func:`tornado_header_limit`.

    jupyter_server does not expose Tornado's ``max_header_size`` (64 KiB): above it the
    connection is closed with no answer, so our 431 could never be sent. Its HTTP server
    is created after extensions load, hence this is called once the server exists. The
    parameters object is shared by every connection and read at each request, so the
    change holds for connections already open. Never lowers a larger limit set
    elsewhere. Returns the new limit, or None when the server has no HTTP server of its
    own (an embedder or a test harness that makes its own).
    """
    params = getattr(getattr(serverapp, "http_server", None), "conn_params", None)
    if params is None:
        log.debug("No HTTP server of the Jupyter server's own: Tornado's header limit unchanged.")
        return None
    current = params.max_header_size or TORNADO_DEFAULT_MAX_HEADER_SIZE
    params.max_header_size = max(current, tornado_header_limit(max_header_size))
    log.debug("Tornado's request header limit: %d bytes", params.max_header_size)
    return int(params.max_header_size)


def check_request_size(
    request: httputil.HTTPServerRequest, max_header_size: int, max_body_size: int
) -> None:
    """``HeadersTooLarge`` (431) / ``BodyTooLarge`` (413) past the limits."""
    size = request_header_size(request)
    if size > max_header_size:
        raise HeadersTooLarge(
            f"The request's headers total {size} bytes; this server accepts at most "
            f"{max_header_size} (ScriptingApp.max_header_size)."
        )
    size = request_body_size(request)
    if size > max_body_size:
        raise BodyTooLarge(
            f"The request's body is {size} bytes; this server accepts at most "
            f"{max_body_size} (ScriptingApp.max_body_size)."
        )
