"""The HTTP client of ``jupyter scripting``: requests to one server, and their answers.

Only the standard library (``urllib``), so that the client commands start fast: they never
import jupyter_server or tornado. Every request has a timeout; redirects are not followed
(a script's 3xx answer is the script's answer); https URLs are verified with the system's
certificates unless ``--insecure``. :mod:`.api` builds the API's calls on it.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import Message
from http import HTTPStatus
from typing import Any

from .._version import __version__
from .errors import EXIT_ERROR, CommandError, ServerUnreachable
from .servers import TOKEN_ENV

__all__ = ["Answer", "Client", "ServerError", "ServerUnreachable", "charset_of", "is_textual"]

#: ``Content-Type`` values whose bodies are text (besides ``text/*``).
_TEXT_TYPES = {
    "application/json",
    "application/xml",
    "application/javascript",
    "application/ecmascript",
    "application/x-ipynb+json",
    "application/x-www-form-urlencoded",
    "application/yaml",
    "application/x-yaml",
    "image/svg+xml",
}


class ServerError(CommandError):
    """The server answered 4xx/5xx; the message follows its JSON error document."""

    exit_code = EXIT_ERROR

    def __init__(self, answer: Answer, hint: str | None = None) -> None:
        self.answer = answer
        self.status = answer.status
        document = answer.error_document()
        if document is not None:
            self.reason = str(document.get("reason") or answer.phrase)
            self.error_message = str(document.get("message") or "")
            execution = document.get("executionId") or answer.header("X-Execution-Id")
        else:
            # Not our JSON (a proxy's page, another server): its phrase and a glimpse.
            self.reason = answer.phrase
            self.error_message = _glimpse(answer.body)
            execution = answer.header("X-Execution-Id")
        self.execution_id = str(execution) if execution else None
        text = f"{self.status} {self.reason}"
        if self.error_message:
            text += f": {self.error_message}"
        if self.execution_id:
            text += f" (execution {self.execution_id})"
        if hint:
            text += f"\n{hint}"
        super().__init__(text)


def _glimpse(body: bytes, size: int = 200) -> str:
    text = " ".join(body[: size * 4].decode("utf-8", "replace").split())
    return text if len(text) <= size else text[: size - 1] + "…"


def is_textual(content_type: str | None) -> bool:
    """Whether a body of this ``Content-Type`` is meant to be read as text."""
    if not content_type:
        return False
    mime = content_type.split(";", 1)[0].strip().lower()
    return (
        mime.startswith("text/")
        or mime in _TEXT_TYPES
        or mime.endswith("+json")
        or mime.endswith("+xml")
    )


def charset_of(content_type: str | None) -> str:
    """The ``charset`` parameter of a ``Content-Type`` (UTF-8 when there is none)."""
    if content_type:
        message = Message()
        message["Content-Type"] = content_type
        charset = message.get_content_charset()
        if charset:
            return charset
    return "utf-8"


@dataclass
class Answer:
    """An HTTP answer, whatever its status."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    url: str

    @property
    def phrase(self) -> str:
        """The standard reason phrase of the status (``OK``, ``Not Found``, …)."""
        try:
            return HTTPStatus(self.status).phrase
        except ValueError:
            return "Unknown status"

    def header(self, name: str) -> str | None:
        """The first header of that name (case-insensitive), or None."""
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None

    @property
    def content_type(self) -> str | None:
        return self.header("Content-Type")

    def json(self) -> Any:
        """The body as JSON (a :class:`CommandError` if it is not)."""
        try:
            return json.loads(self.body)
        except ValueError:
            raise CommandError(
                f"The server at {self.url} answered {self.status} with something that is "
                f"not JSON: {_glimpse(self.body)!r}. Is the URL the Jupyter server's base "
                "URL, with the jupyter_scripting extension enabled?"
            ) from None

    def error_document(self) -> dict[str, Any] | None:
        """The body if it is one of the API's error documents (``message`` and ``reason``)."""
        if not self.body or not self.body.lstrip().startswith(b"{"):
            return None
        try:
            value = json.loads(self.body)
        except ValueError:
            return None
        if isinstance(value, dict) and "message" in value and "reason" in value:
            return value
        return None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Answers 3xx as they are: never re-send a request (or its token) elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class Client:
    """Requests to one jupyter_scripting server, authenticated with ``token``."""

    url: str
    token: str | None = None
    timeout: float = 30.0
    insecure: bool = False
    _opener: urllib.request.OpenerDirector = field(init=False, repr=False)

    def __post_init__(self) -> None:
        context = ssl.create_default_context()
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        self._opener = urllib.request.build_opener(
            _NoRedirect(), urllib.request.HTTPSHandler(context=context)
        )

    def endpoint(self, *parts: str, query: Sequence[tuple[str, str]] | None = None) -> str:
        """The absolute URL of ``parts`` (path segments, quoted) under the server's URL."""
        path = "/".join(urllib.parse.quote(part, safe="") for part in parts)
        url = f"{self.url}/{path}"
        if query:
            url += "?" + urllib.parse.urlencode(list(query))
        return url

    def request(
        self,
        method: str,
        *parts: str,
        query: Sequence[tuple[str, str]] | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Answer:
        """Send a request; its answer whatever the status. ``ServerUnreachable`` when no
        answer came (refused, unknown host, TLS failure, no answer within the timeout)."""
        url = self.endpoint(*parts, query=query)
        request = urllib.request.Request(
            url, data=body, method=method, headers=self._headers(headers)
        )
        wait = self.timeout if timeout is None else timeout
        try:
            with self._opener.open(request, timeout=wait) as answer:
                return Answer(answer.status, list(answer.headers.items()), answer.read(), url)
        except urllib.error.HTTPError as error:
            with error:
                return Answer(error.code, list(error.headers.items()), error.read(), url)
        except urllib.error.URLError as error:
            raise ServerUnreachable(self._unreachable(error.reason, wait)) from None
        except (OSError, http.client.HTTPException) as error:
            raise ServerUnreachable(self._unreachable(error, wait)) from None

    def events(
        self, *parts: str, after: int = 0, timeout: float = 60.0
    ) -> Iterator[tuple[str, Any, int | None]]:
        """The Server-Sent Events at ``parts`` as they come: (kind, data parsed as JSON,
        id). A stream cut short is taken up again after the last id (three times at most);
        an error answer raises ``ServerError``."""
        tries = 0
        while True:
            url = self.endpoint(*parts, query=[("after", str(after))])
            headers = self._headers({"Accept": "text/event-stream"})
            request = urllib.request.Request(url, method="GET", headers=headers)
            try:
                with self._opener.open(request, timeout=timeout) as answer:
                    kind, data, event_id = "message", "", None
                    for raw in answer:
                        line = raw.decode("utf-8").rstrip("\r\n")
                        if line:
                            name, _, value = line.partition(":")
                            value = value[1:] if value.startswith(" ") else value
                            if name == "event":
                                kind = value
                            elif name == "data":
                                data = f"{data}\n{value}" if data else value
                            elif name == "id" and value.isdigit():
                                event_id = int(value)
                            continue
                        if data:
                            if event_id is not None:
                                after = event_id
                            yield kind, json.loads(data), event_id
                            if kind == "status":
                                return
                        kind, data, event_id = "message", "", None
            except urllib.error.HTTPError as error:
                with error:
                    answer_ = Answer(error.code, list(error.headers.items()), error.read(), url)
                raise ServerError(answer_, self.hint(answer_)) from None
            except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
                tries += 1
                if tries > 3:
                    reason = error.reason if isinstance(error, urllib.error.URLError) else error
                    raise ServerUnreachable(self._unreachable(reason, timeout)) from None
                continue
            tries += 1  # ended without a status: take it up again
            if tries > 3:
                raise ServerUnreachable(
                    f"The server at {self.url} ended the run's event stream early."
                )

    def _headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        """Every request's headers (who asks, no compression, the token) and ``extra``."""
        headers = {
            "User-Agent": f"jupyter-scripting/{__version__}",
            "Accept-Encoding": "identity",
            **(extra or {}),
        }
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def _unreachable(self, reason: object, timeout: float) -> str:
        if isinstance(reason, socket.timeout | TimeoutError):
            why = f"no answer within {timeout:g} s (--timeout)"
        elif isinstance(reason, ssl.SSLCertVerificationError):
            why = (
                f"TLS certificate not trusted ({reason.verify_message}; --insecure skips the check)"
            )
        elif isinstance(reason, socket.gaierror):
            why = f"unknown host ({reason.strerror})"
        elif isinstance(reason, http.client.RemoteDisconnected):
            why = "the connection was closed without an answer"
        elif isinstance(reason, OSError) and reason.strerror:
            why = reason.strerror.rstrip(".")
        else:
            why = str(reason) or type(reason).__name__
        return f"Could not reach the server at {self.url}: {why}."

    def call(
        self,
        method: str,
        *parts: str,
        query: Sequence[tuple[str, str]] | None = None,
        payload: Any = None,
        hint_404: str | None = None,
    ) -> Answer:
        """An API call (``payload`` sent as JSON): its answer if 2xx, else ``ServerError``."""
        body = None if payload is None else json.dumps(payload).encode("utf-8")
        headers = {"Content-Type": "application/json"} if body is not None else {}
        answer = self.request(method, *parts, query=query, body=body, headers=headers)
        if answer.status >= 400:
            raise ServerError(answer, self.hint(answer, hint_404))
        return answer

    def hint(self, answer: Answer, hint_404: str | None = None) -> str | None:
        """What to do about an error answer, when there is something to say."""
        if answer.status == 401:
            given = "was refused" if self.token else "is missing"
            return (
                f"The token or API key {given}: give the server's token or an API key with "
                f"--token or {TOKEN_ENV}."
            )
        refused = (answer.error_document() or {}).get("reason") == "callback-refused"
        if answer.status == 403 and not refused:
            return "The API key's role does not allow this (runner keys may only run scripts)."
        if answer.status == 404 and answer.error_document() is None:
            return (
                f"{self.url} does not look like a Jupyter server with jupyter_scripting: give "
                "its base URL (as `jupyter server list` prints it, without /lab or ?token=)."
            )
        if answer.status == 404:
            return hint_404
        return None
