"""Completion webhooks (README, "Webhooks"): where a run's end is POSTed, how it is
signed, which targets are refused, and how long a failed delivery is tried again.

A delivery is written into the store in the transaction that records the run's end
(``store.deliveries.queue_deliveries``), so a run that ended always has its deliveries,
whatever happens to the node afterwards. Every node sends due deliveries; a conditional
UPDATE of the delivery's claim decides which node sends each attempt.

No target in the service's own network: a URL whose host resolves to a loopback,
link-local, private, multicast or otherwise non-global address is refused when it is set
and again when it is sent (the resolver the sending client connects through drops such
addresses, so a name that resolves differently later is refused too) unless the operator
allow-listed the host (``ScriptingApp.webhook_allowed_hosts``). Redirects are not
followed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import re
import secrets
import socket
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tornado.netutil import DefaultLoopResolver, Resolver

from .errors import BadRequest, Forbidden
from .models import iso

#: The events a webhook may ask for: the run's end state.
EVENTS = ("finished", "failed")
#: The per-call callback header (README, "Webhooks").
CALLBACK_HEADER = "X-Scripting-Callback"
SIGNATURE_HEADER = "X-Scripting-Signature"
#: A signing secret's prefix (it is shown once: the prefix tells what it is).
SECRET_PREFIX = "whsec_"
MAX_URL = 2048
#: The longest a failed delivery waits before it is tried again.
MAX_BACKOFF = 3600.0
#: How long resolving a webhook's host may take when it is set.
_RESOLVE_TIMEOUT = 5.0
_FIELDS = {"url", "events", "sync"}
_HOST_NAME = re.compile(r"[a-z0-9_]([a-z0-9_.-]*[a-z0-9_.])?")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class CallbackRefused(Forbidden):
    """A webhook or callback target this server does not send to."""

    reason = "callback-refused"


@dataclass(frozen=True)
class WebhookSpec:
    """A script's webhook: where its runs' ends are POSTed, for which end states, and
    whether synchronous runs count too (background runs always do)."""

    url: str
    events: tuple[str, ...] = EVENTS
    sync: bool = False

    def to_json(self) -> str:
        return json.dumps({"url": self.url, "events": list(self.events), "sync": self.sync})

    @classmethod
    def from_json(cls, text: str | None) -> WebhookSpec | None:
        if not text:
            return None
        data = json.loads(text)
        return cls(data["url"], tuple(data["events"]), bool(data["sync"]))

    def model(self) -> dict[str, Any]:
        return {"url": self.url, "events": list(self.events), "sync": self.sync}


def parse_url(value: object, what: str) -> str:
    """An ``http(s)://host[:port]/…`` URL without credentials in it (``BadRequest``)."""
    if not isinstance(value, str) or not value or len(value) > MAX_URL:
        raise BadRequest(f"{what} must be an http:// or https:// URL of at most {MAX_URL} bytes.")
    try:
        parts = urllib.parse.urlsplit(value)
        port = parts.port
    except ValueError:
        raise BadRequest(f"{what} is not a URL: {value!r}.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest(f"{what} must be an http:// or https:// URL with a host: {value!r}.")
    if parts.username is not None or parts.password is not None:
        raise BadRequest(
            f"{what} may not hold a user name or password; put a token in its path or query."
        )
    if any(c.isspace() or ord(c) < 32 for c in value) or parts.fragment:
        raise BadRequest(f"{what} may hold no spaces, control characters or #fragment.")
    if port == 0:
        raise BadRequest(f"{what} names port 0.")
    return value


def parse_webhook(payload: object) -> WebhookSpec | None:
    """A PATCH's ``webhook`` value: an object with ``url`` (and ``events``, ``sync``), or
    null to remove it."""
    if payload is None:
        return None
    if not isinstance(payload, dict):
        raise BadRequest('"webhook" must be {"url": ..., "events": [...], "sync": ...} or null.')
    unknown = sorted(set(payload) - _FIELDS)
    if unknown:
        raise BadRequest(
            f'Unknown "webhook" field(s): {", ".join(unknown)} (known: events, sync, url).'
        )
    url = parse_url(payload.get("url"), '"webhook.url"')
    events = payload.get("events", list(EVENTS))
    if (
        not isinstance(events, list)
        or not events
        or any(e not in EVENTS for e in events)
        or len(set(events)) != len(events)
    ):
        raise BadRequest('"webhook.events" must be a non-empty list of "finished" and/or "failed".')
    sync = payload.get("sync", False)
    if not isinstance(sync, bool):
        raise BadRequest('"webhook.sync" must be true or false.')
    return WebhookSpec(url, tuple(e for e in EVENTS if e in events), sync)


def is_public(address: IPAddress) -> bool:
    """Whether an address is on the public Internet (not loopback, link-local, private,
    shared, reserved, multicast or unspecified); an IPv4-mapped IPv6 address counts as
    its IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


@dataclass(frozen=True)
class AllowList:
    """``ScriptingApp.webhook_allowed_hosts``: host names (exact, any case), addresses
    and networks (CIDR) webhooks may go to although they are not public, and the only
    hosts a per-call callback may name."""

    names: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        """``ValueError`` names an entry that is neither a host name nor an address."""
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in entries:
            value = entry.strip().lower().strip("[]")
            try:
                networks.append(ipaddress.ip_network(value, strict=False))
                continue
            except ValueError:
                pass
            if not _HOST_NAME.fullmatch(value):
                raise ValueError(f"not a host name, address or network: {entry!r}")
            names.add(value.rstrip("."))
        return cls(frozenset(names), tuple(networks))

    def names_host(self, host: str) -> bool:
        """Whether the host itself is listed (by name, or as an address in a network)."""
        host = host.lower().strip("[]").rstrip(".")
        if host in self.names:
            return True
        address = _address(host)
        return address is not None and self.allows_address(address)

    def allows_address(self, address: IPAddress) -> bool:
        return any(address.version == n.version and address in n for n in self.networks)

    def address_ok(self, address: IPAddress) -> bool:
        """Whether a webhook may connect to this address."""
        return is_public(address) or self.allows_address(address)


def _address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _refused(url: str, address: object) -> CallbackRefused:
    return CallbackRefused(
        f"This server sends no webhook to {url}: it is not a public address ({address}). "
        "An operator may allow the host with ScriptingApp.webhook_allowed_hosts."
    )


async def check_webhook_target(url: str, allowed: AllowList) -> None:
    """Refuse a script's webhook whose host is not public (``CallbackRefused``) or does
    not resolve (``BadRequest``), unless the host is allow-listed."""
    host = urllib.parse.urlsplit(url).hostname or ""
    if allowed.names_host(host):
        return
    literal = _address(host)
    if literal is not None:
        if not allowed.address_ok(literal):
            raise _refused(url, literal)
        return
    loop = asyncio.get_running_loop()
    try:
        found = await asyncio.wait_for(
            loop.getaddrinfo(host, None, type=socket.SOCK_STREAM), _RESOLVE_TIMEOUT
        )
    except (OSError, TimeoutError):
        raise BadRequest(f'The host of "webhook.url" cannot be resolved: {host!r}.') from None
    for *_, sockaddr in found:
        address = ipaddress.ip_address(sockaddr[0])
        if not allowed.address_ok(address):
            raise _refused(url, address)


def check_callback(url: object, allowed: AllowList) -> str:
    """A per-call ``X-Scripting-Callback``: a URL whose host the operator allow-listed."""
    checked = parse_url(url, CALLBACK_HEADER)
    host = urllib.parse.urlsplit(checked).hostname or ""
    if not allowed.names_host(host):
        raise CallbackRefused(
            f"{CALLBACK_HEADER} may only name a host of ScriptingApp.webhook_allowed_hosts; "
            f"{host!r} is not one. Set a webhook on the script instead (PATCH its settings)."
        )
    return checked


class GuardedResolver(Resolver):
    """The resolver webhooks connect through: drops the addresses a webhook may not
    reach (a host that resolves to none of the others is refused), so that a name that
    resolves somewhere private at sending time is refused too."""

    def initialize(self, allowed: AllowList) -> None:
        self.allowed = allowed
        self.inner = DefaultLoopResolver()

    async def resolve(
        self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[tuple[int, Any]]:
        found: list[tuple[int, Any]] = await self.inner.resolve(host, port, family)
        if self.allowed.names_host(host):
            return found
        kept = [(f, a) for f, a in found if self.allowed.address_ok(ipaddress.ip_address(a[0]))]
        if not kept:
            raise OSError(f"{host} resolves to no public address ({found[0][1][0]})")
        return kept


def new_signing_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value: ``t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, *, tolerance: float = 300.0) -> bool:
    """What a receiver does (README, "Webhooks"): the signature matches and is recent."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def backoff(attempt: int, initial: float) -> float:
    """Seconds before the attempt after failed attempt number ``attempt`` (1, 2, …):
    ``initial`` doubled each time, an hour at most."""
    return float(min(initial * 2 ** (attempt - 1), MAX_BACKOFF))


def _relative_log_url(script_id: str, execution_id: str) -> str:
    return f"/scripting/log/script/{script_id}/execution/{execution_id}"


@dataclass
class DeliveryRules:
    """What the store needs to write a run's deliveries: the URL of a run's log (the
    server's public URL), and how long deliveries are tried (``webhook_retry_hours``)."""

    log_url: Callable[[str, str], str] = _relative_log_url
    retry_for: dt.timedelta = field(default_factory=lambda: dt.timedelta(hours=24))


def log_url_of(base: str) -> Callable[[str, str], str]:
    """``DeliveryRules.log_url`` for a server at ``base`` (``http://host:port/prefix/``)."""
    base = base.rstrip("/")
    return lambda script_id, execution_id: base + _relative_log_url(script_id, execution_id)


def payload(
    *,
    event: str,
    execution_id: str,
    script_id: str,
    version: int,
    mode: str,
    status_code: int | None,
    reason: str | None,
    duration_ms: float | None,
    finished_at: dt.datetime | None,
    log_url: str,
) -> str:
    """A delivery's JSON body (the same for each of its attempts)."""
    return json.dumps(
        {
            "event": event,
            "executionId": execution_id,
            "scriptId": script_id,
            "version": version,
            "mode": mode,
            "state": event,
            "statusCode": status_code,
            "reason": reason,
            "durationMs": duration_ms,
            "finishedAt": iso(finished_at),
            "logUrl": log_url,
        }
    )
