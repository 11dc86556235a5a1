"""The webhook sender of a node (README, "Webhooks"): claims due deliveries from the
store, POSTs them signed, records each attempt.

Every node runs one. It looks for due deliveries when a run of its own ended, when an
attempt it made is over, at the soonest due time it read, and every
``webhook_interval`` seconds at most (so it sends what another node left, e.g. one that
died while sending, once the claim's lease has run out).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from dataclasses import dataclass, field

from cryptography.fernet import Fernet
from tornado.httpclient import HTTPRequest
from tornado.simple_httpclient import SimpleAsyncHTTPClient

from . import metrics, webhooks
from ._version import __version__
from .crypto import Keyring, SecretUnreadable
from .protocols import StoreProtocol
from .store.records import ClaimedDelivery, SigningSecretRecord

#: A slow receiver's answer is read at most this far (its body is not kept).
_MAX_ANSWER = 1024 * 1024
_SLACK = 0.05


@dataclass
class WebhookSettings:
    """The ``ScriptingApp`` traits of the same names (their defaults and help are there)."""

    webhook_allowed_hosts: list[str] = field(default_factory=list)
    webhook_retry_hours: float = 24.0
    webhook_backoff: float = 10.0
    webhook_timeout: float = 10.0
    webhook_interval: float = 5.0
    webhook_max_concurrent: int = 10


class WebhookSender:
    """Sends the due deliveries of every node's runs, ``webhook_max_concurrent`` at once."""

    def __init__(
        self,
        store: StoreProtocol,
        node: str,
        settings: WebhookSettings | None = None,
        keyring: Keyring | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        self.store = store
        self.node = node
        self.settings = settings or WebhookSettings()
        self.allowed = webhooks.AllowList.parse(self.settings.webhook_allowed_hosts)
        self.keyring = keyring or Keyring(Fernet.generate_key().decode())
        self.log = log or logging.getLogger(__name__)
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._client: SimpleAsyncHTTPClient | None = None
        self._stopping = False

    @property
    def lease(self) -> dt.timedelta:
        """How long a claim holds: an attempt's longest time, and a margin."""
        return dt.timedelta(seconds=2 * self.settings.webhook_timeout + 30)

    def start(self) -> None:
        if self._loop is None and not self._stopping:
            self._client = SimpleAsyncHTTPClient(
                force_instance=True,
                resolver=webhooks.GuardedResolver(allowed=self.allowed),
                max_clients=self.settings.webhook_max_concurrent,
                max_body_size=_MAX_ANSWER,
            )
            self._loop = asyncio.ensure_future(self._forever())

    def wake(self) -> None:
        """Look for due deliveries now (a run ended here, or an attempt is over)."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop looking; let the attempts under way end (``webhook_timeout`` bounds
        them); give back what this node still claims."""
        self._stopping = True
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
        if self._sending:
            await asyncio.wait(set(self._sending), timeout=self.settings.webhook_timeout + 1)
            for task in self._sending:
                task.cancel()
        with contextlib.suppress(Exception):
            await self.store.release_deliveries(self.node)
        if self._client is not None:
            self._client.close()

    async def _forever(self) -> None:
        while not self._stopping:
            pause = self.settings.webhook_interval
            try:
                free = self.settings.webhook_max_concurrent - len(self._sending)
                if free > 0:
                    for claimed in await self.store.claim_deliveries(self.node, free, self.lease):
                        task = asyncio.ensure_future(self._send(claimed))
                        self._sending.add(task)
                        task.add_done_callback(self._sent)
                if len(self._sending) < self.settings.webhook_max_concurrent:
                    soonest = await self.store.next_delivery_due()
                    if soonest is not None:
                        until = (soonest - dt.datetime.now(dt.UTC)).total_seconds()
                        pause = min(pause, max(until, 0.0) + _SLACK)
            except Exception:  # a store that failed is tried again at the next look
                self.log.exception("Could not look for due webhook deliveries")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), pause)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log.error("A webhook delivery failed", exc_info=task.exception())
        self.wake()

    async def _send(self, claimed: ClaimedDelivery) -> None:
        """Make one attempt of a claimed delivery and record it."""
        assert self._client is not None
        try:
            secret = await self.signing_secret(claimed.tenant)
        except SecretUnreadable as e:  # another key wrote it: nothing is sent unsigned
            self.log.error("Webhook delivery %s: %s", claimed.id, e)
            await self._record(claimed, None, f"not sent: {e}", 0.0)
            return
        body = claimed.payload.encode("utf-8")
        request = HTTPRequest(
            claimed.url,
            method="POST",
            body=body,
            headers={
                "Content-Type": "application/json",
                webhooks.SIGNATURE_HEADER: webhooks.sign(secret, int(time.time()), body),
                "X-Scripting-Delivery": claimed.id,
                "X-Scripting-Event": claimed.event,
                "X-Scripting-Attempt": str(claimed.attempt),
            },
            user_agent=f"jupyter_scripting/{__version__} (webhook)",
            follow_redirects=False,
            connect_timeout=self.settings.webhook_timeout,
            request_timeout=self.settings.webhook_timeout,
            streaming_callback=lambda chunk: None,  # the answer's body is not kept
        )
        status: int | None = None
        error: str | None = None
        started = time.monotonic()
        try:
            response = await self._client.fetch(request, raise_error=False)
            status = response.code if response.code != 599 else None
            if status is None:
                error = str(response.error)
        except Exception as e:  # refused, unreachable, timed out, not a public address
            error = f"{type(e).__name__}: {e}"
        await self._record(claimed, status, error, (time.monotonic() - started) * 1000)

    async def _record(
        self, claimed: ClaimedDelivery, status: int | None, error: str | None, duration_ms: float
    ) -> None:
        """Record an attempt: delivered on a 2xx answer, else due again after the back-off."""
        delivered = status is not None and 200 <= status < 300
        if status is not None and not delivered:
            error = f"the receiver answered {status}"
        state = await self.store.record_attempt(
            claimed,
            node=self.node,
            status_code=status,
            error=error,
            duration_ms=duration_ms,
            delivered=delivered,
            retry_in=webhooks.backoff(claimed.attempt, self.settings.webhook_backoff),
        )
        if state is None:
            self.log.warning(
                "Webhook delivery %s: attempt %d ended after its claim had run out",
                claimed.id,
                claimed.attempt,
            )
            return
        metrics.WEBHOOK_ATTEMPTS.labels(
            outcome={"delivered": "delivered", "pending": "retry"}.get(state, "failed")
        ).inc()
        if not delivered:
            self.log.info(
                "Webhook delivery %s to %s, attempt %d: %s (%s)",
                claimed.id,
                claimed.url,
                claimed.attempt,
                error,
                "given up" if state == "failed" else "tried again later",
            )

    # -- signing secrets -------------------------------------------------------
    async def signing_secret(self, tenant: str) -> str:
        """The tenant's signing secret, made now if it has none."""
        record = await self.store.get_signing_secret(tenant)
        if record is None:
            record, _ = await self.store.put_signing_secret(
                tenant, self.keyring.encrypt(webhooks.new_signing_secret()), replace=False
            )
        return self.keyring.decrypt(record.secret)

    async def ensure_signing_secret(self, tenant: str) -> str | None:
        """Make the tenant's secret if it has none: the new secret (to show once), or
        None if it had one."""
        secret = webhooks.new_signing_secret()
        _, made = await self.store.put_signing_secret(
            tenant, self.keyring.encrypt(secret), replace=False
        )
        return secret if made else None

    async def rotate_signing_secret(self, tenant: str) -> tuple[SigningSecretRecord, str]:
        """A new secret in place of the tenant's (deliveries from now on are signed with
        it, on every node): its record and the secret, shown once."""
        secret = webhooks.new_signing_secret()
        record, _ = await self.store.put_signing_secret(
            tenant, self.keyring.encrypt(secret), replace=True
        )
        return record, secret
