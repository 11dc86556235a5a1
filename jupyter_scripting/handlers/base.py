"""The base of every /scripting handler: 401 for strangers, JSON errors, tenant scoping."""

from __future__ import annotations

import json
from http.client import responses
from typing import TYPE_CHECKING, Any, cast

from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from ..auth import ScriptingUser
from ..errors import (
    BadRequest,
    NotAuthenticated,
    NotFound,
    ScriptingError,
    ScriptNotFound,
)
from ..http_limits import check_request_size
from ..rules import is_uuid
from ..service import ScriptingService

if TYPE_CHECKING:
    from ..app import ScriptingApp

AUTH_REQUIRED = "Authentication required: send an API key or the server's token."
#: Headers for answers whose content a script chose: never sniffed, never scripted.
SANDBOX_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"}


class ScriptingHandler(ExtensionHandlerMixin, APIHandler):
    """Authenticated JSON API handler of the scripting extension."""

    _execution_id: str | None = None

    @property
    def service(self) -> ScriptingService:
        return self.settings["scripting_service"]  # type: ignore[no-any-return]

    @property
    def identity_provider(self) -> Any:
        # API keys count on the /scripting routes only: see jupyter_scripting.auth.
        return self.settings["scripting_identity_provider"]

    @property
    def authorizer(self) -> Any:
        return self.settings["scripting_authorizer"]

    @property
    def principal(self) -> ScriptingUser:
        """The authenticated caller, with its tenant and role."""
        user = self.current_user
        if not isinstance(user, ScriptingUser):
            raise NotAuthenticated(AUTH_REQUIRED)
        return user

    @property
    def tenant(self) -> str:
        """The caller's tenant: every lookup is scoped by it."""
        return self.principal.tenant

    # -- authentication: 401 + JSON, never 403 or a login redirect ---------------
    def check_xsrf_cookie(self) -> None:
        # jupyter_server runs the XSRF check right after resolving the user; a caller
        # with no identity at all must hear 401 rather than "'_xsrf' argument missing".
        if hasattr(self, "_jupyter_current_user") and self._jupyter_current_user is None:
            raise NotAuthenticated(AUTH_REQUIRED)
        super().check_xsrf_cookie()

    def get_login_url(self) -> str:
        raise NotAuthenticated(AUTH_REQUIRED)

    async def prepare(self) -> None:  # type: ignore[override]
        # Size limits first: an oversized request hears 431/413 whoever sends it, and
        # neither authentication nor anything after it spends work on it.
        self.check_request_size()
        await super().prepare()
        if self.current_user is None:
            raise NotAuthenticated(AUTH_REQUIRED)

    # -- size limits: 431 / 413 + JSON, never a dropped connection ----------------
    def check_request_size(self) -> None:
        """``HeadersTooLarge`` / ``BodyTooLarge`` past the extension's limits.

        For an ordinary (non-streaming) handler Tornado has read the body already, bounded
        by ``ServerApp.max_body_size``; the check still keeps it away from the service.
        """
        app = cast("ScriptingApp", self.extensionapp)
        check_request_size(self.request, app.max_header_size, app.max_body_size)

    # -- errors -------------------------------------------------------------------
    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, ScriptingError) and value.status < 500:
            self.log.info(
                "%s %s: %s %s", self.request.method, self.request.path, value.status, value.message
            )
        elif isinstance(value, ScriptingError):
            self.log.error(
                "%s %s: %s %s",
                self.request.method,
                self.request.path,
                value.status,
                value.message,
                exc_info=(typ, value, tb) if value.__cause__ else None,
            )
        else:
            super().log_exception(typ, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Every error is ``{"message", "reason", "executionId"}`` and nothing more (but
        what its kind adds: ``ScriptingError.details``, e.g. a 422's ``problems``)."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        details: dict[str, object] = {}
        if isinstance(exc, ScriptingError):
            status_code, message, reason = exc.status, exc.message, exc.reason
            details = exc.details()
            self._execution_id = exc.execution_id or self._execution_id
        elif isinstance(exc, web.HTTPError):
            message = (
                exc.log_message % exc.args
                if exc.log_message
                else responses.get(status_code, "Unknown error")
            )
            reason = responses.get(status_code, "error").lower().replace(" ", "-")
        else:
            message, reason = (
                "Internal server error (the server log has the details).",
                "internal-error",
            )
        self.set_status(status_code)
        # send_error() cleared every header set before the error: set ours again.
        if self._execution_id:
            self.set_header("X-Execution-Id", self._execution_id)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            self.set_header("Retry-After", str(retry_after))
        if status_code == 401:
            self.set_header("WWW-Authenticate", 'Bearer realm="jupyter_scripting"')
        if status_code == 405:
            self.set_header("Allow", ", ".join(self.allowed_methods()))
        body = {"message": message, "reason": reason, "executionId": self._execution_id}
        self.finish(json.dumps({**body, **details}))

    # -- helpers --------------------------------------------------------------------
    @classmethod
    def allowed_methods(cls) -> list[str]:
        """The methods this handler implements (for ``Allow`` on a 405)."""
        return [
            method
            for method in cls.SUPPORTED_METHODS
            if getattr(cls, method.lower()) is not getattr(web.RequestHandler, method.lower())
        ]

    def script_id(self, value: str) -> str:
        """A script id from the URL, checked before anything else sees it."""
        if not is_uuid(value):
            raise ScriptNotFound(value[:100])
        return value

    def text_argument(self, name: str) -> str | None:
        """A query argument exactly as sent (Tornado's ``get_argument`` would strip it and
        silently drop control characters: a bad value must be refused, not altered)."""
        values = self.request.query_arguments.get(name)
        if not values:
            return None
        try:
            return values[-1].decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest(f"?{name}= is not valid UTF-8.") from None

    def int_argument(self, name: str, default: int, *, low: int, high: int) -> int:
        raw = self.get_query_argument(name, None)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise BadRequest(f"?{name}= must be an integer (got {raw[:40]!r}).") from None
        if not low <= value <= high:
            raise BadRequest(f"?{name}= must be between {low} and {high} (got {value}).")
        return value

    def finish_content(self, body: bytes, content_type: str | None) -> None:
        """Finish with ``body`` labelled ``content_type`` (APIHandler would say JSON)."""
        if content_type is None or self.get_status() in (204, 304):
            self.update_api_activity()
            self.clear_header("Content-Type")
            web.RequestHandler.finish(self, body or None)
        else:
            self.finish(body, set_content_type=content_type)

    def write_json(self, payload: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(payload))


class NotFoundHandler(ScriptingHandler):
    """Any other path under /scripting: a JSON 404, not the server's HTML page."""

    def _not_found(self) -> None:
        raise NotFound("No such route: " + self.request.path[:200])

    @web.authenticated
    def get(self, *args: str) -> None:
        self._not_found()

    post = put = patch = delete = head = get
