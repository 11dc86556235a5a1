"""Completion webhooks (README, "Webhooks"): the settings' checks and the signature, the
store's deliveries (written with the run's end, claimed by one node per attempt, given up
in time), and end to end against a local receiver: signed deliveries, a receiver that
fails twice gets three attempts, refused targets, per-call callbacks, a restart between
attempts that loses nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
import http.server
import ipaddress
import json
import os
import stat
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tornado.web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from jupyter_scripting import webhooks
from jupyter_scripting.crypto import Keyring, load_key
from jupyter_scripting.errors import BadRequest, ExecutionNotFound, ScriptNotFound
from jupyter_scripting.store import ExecutionResult, Store
from jupyter_scripting.webhooks import AllowList, CallbackRefused, WebhookSpec

from . import test_store
from .helpers import body_json, notebook_of, scripting_app, server_config, wait_for
from .server_process import ServerProcess
from .test_store import Backend, Clock, notebook, postgresql_backend

backend = test_store.backend
UTC = dt.UTC
T0 = dt.datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)
LEASE = dt.timedelta(seconds=30)


# -- the settings and the signature ----------------------------------------------------------
@pytest.mark.parametrize(
    "payload",
    [
        "https://example.com/hook",
        {},
        {"url": "ftp://example.com/"},
        {"url": "https://user:pw@example.com/"},
        {"url": "https://example.com/a b"},
        {"url": "https://example.com/", "events": []},
        {"url": "https://example.com/", "events": ["started"]},
        {"url": "https://example.com/", "sync": "yes"},
        {"url": "https://example.com/", "colour": "red"},
        {"url": "https://" + "a" * 3000 + ".com/"},
    ],
)
def test_bad_webhooks_are_refused_saying_what(payload: object) -> None:
    with pytest.raises(BadRequest) as refused:
        webhooks.parse_webhook(payload)
    assert refused.value.args[0]


def test_a_webhook_defaults_to_both_ends_of_background_runs() -> None:
    spec = webhooks.parse_webhook({"url": "https://example.com/h?token=1"})
    assert spec == WebhookSpec("https://example.com/h?token=1", ("finished", "failed"), False)
    assert WebhookSpec.from_json(spec.to_json()) == spec
    assert webhooks.parse_webhook(None) is None
    only = webhooks.parse_webhook(
        {"url": "http://example.com/", "events": ["failed"], "sync": True}
    )
    assert only is not None and (only.events, only.sync) == (("failed",), True)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:4700::1111", True),
        ("127.0.0.1", False),
        ("::1", False),
        ("::ffff:127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
    ],
)
def test_only_public_addresses_count_as_public(address: str, public: bool) -> None:
    assert webhooks.is_public(ipaddress.ip_address(address)) is public


def test_the_allow_list_takes_names_addresses_and_networks() -> None:
    allowed = AllowList.parse(["Hooks.Internal", "10.1.0.0/16", "::1", "192.168.5.5"])
    assert allowed.names_host("hooks.internal") and allowed.names_host("HOOKS.internal.")
    assert allowed.names_host("10.1.200.3") and allowed.names_host("[::1]")
    assert not allowed.names_host("10.2.0.1") and not allowed.names_host("example.com")
    assert allowed.address_ok(ipaddress.ip_address("10.1.0.9"))
    assert allowed.address_ok(ipaddress.ip_address("93.184.216.34"))  # public anyway
    assert not allowed.address_ok(ipaddress.ip_address("127.0.0.1"))
    for bad in ("http://x/", "a b", "", "'127.0.0.1'"):
        with pytest.raises(ValueError, match="not a host name"):
            AllowList.parse([bad])


async def test_private_targets_are_refused_unless_allow_listed() -> None:
    nobody = AllowList()
    for url in (
        "http://127.0.0.1:8888/",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.7/hook",
        "http://[::ffff:127.0.0.1]/",
        "http://localhost/",
    ):
        with pytest.raises(CallbackRefused):
            await webhooks.check_webhook_target(url, nobody)
    with pytest.raises(BadRequest):
        await webhooks.check_webhook_target("http://no-such-host.invalid/", nobody)
    await webhooks.check_webhook_target("http://93.184.216.34/", nobody)
    await webhooks.check_webhook_target("http://10.0.0.7/", AllowList.parse(["10.0.0.0/8"]))
    await webhooks.check_webhook_target("http://localhost/", AllowList.parse(["127.0.0.1"]))
    # A per-call callback may name only an allow-listed host, public or not.
    with pytest.raises(CallbackRefused):
        webhooks.check_callback("http://93.184.216.34/", nobody)
    assert webhooks.check_callback("http://10.0.0.7/x", AllowList.parse(["10.0.0.7"]))


async def test_the_sending_resolver_drops_what_is_not_public() -> None:
    resolver = webhooks.GuardedResolver(allowed=AllowList())
    with pytest.raises(OSError, match="no public address"):
        await resolver.resolve("localhost", 80)
    allowed = webhooks.GuardedResolver(allowed=AllowList.parse(["localhost"]))
    assert await allowed.resolve("localhost", 80)


def test_signatures_verify_and_expire() -> None:
    secret = webhooks.new_signing_secret()
    assert secret.startswith("whsec_")
    body = b'{"executionId": "x"}'
    header = webhooks.sign(secret, int(time.time()), body)
    assert webhooks.verify(secret, header, body)
    assert not webhooks.verify(secret, header, body + b" ")
    assert not webhooks.verify("whsec_other", header, body)
    assert not webhooks.verify(secret, webhooks.sign(secret, int(time.time()) - 3600, body), body)
    assert not webhooks.verify(secret, "v1=00", body)


def test_back_off_doubles_up_to_an_hour() -> None:
    assert [webhooks.backoff(n, 10) for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert webhooks.backoff(30, 10) == webhooks.MAX_BACKOFF


def test_the_key_file_is_made_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "secret.key"
    key = load_key(path)
    assert load_key(path) == key
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    ring = Keyring(key)
    assert ring.decrypt(ring.encrypt("whsec_x")) == "whsec_x"
    with pytest.raises(Exception, match="cannot be decrypted"):
        Keyring(load_key(tmp_path / "other.key")).decrypt(ring.encrypt("whsec_x"))


# -- the store's deliveries --------------------------------------------------------------------
def _result(state: str = "finished", status: int = 200) -> ExecutionResult:
    return ExecutionResult(
        state=state,  # type: ignore[arg-type]
        status_code=status,
        reason=None if state == "finished" else "script-error",
        content_type="text/plain",
        content=b"ok",
        notebook=None,
        started_at=T0,
        finished_at=T0,
        duration_ms=12.0,
    )


async def _ended_run(
    store: Store, script_id: str, mode: str = "background", callback: str | None = None
) -> str:
    execution_id = str(uuid.uuid4())
    await store.log_run(
        execution_id=execution_id,
        tenant="acme",
        script_id=script_id,
        mode=mode,  # type: ignore[arg-type]
        method="POST",
        callback=callback,
    )
    return execution_id


async def test_deliveries_are_written_with_the_end_and_tried_until_given_up(
    backend: Backend,
) -> None:
    clock = Clock(T0)
    store = backend.store(clock=clock)
    await store.start()
    try:
        script = await store.create_script("acme", "report", notebook("report"))
        hook = WebhookSpec("https://hooks.example.com/a", ("failed",), False)
        await store.update_script("acme", script.id, webhook=hook)
        assert (await store.get_script("acme", script.id)).webhook == hook.to_json()

        # Finished, not asked for; a sync run, not asked for: nothing to deliver.
        quiet = await _ended_run(store, script.id)
        await store.finish_execution(quiet, _result())
        sync = await _ended_run(store, script.id, mode="sync")
        await store.finish_execution(sync, _result("failed", 500))
        assert await store.list_deliveries("acme", script.id, quiet) == []
        assert await store.list_deliveries("acme", script.id, sync) == []
        assert await store.claim_deliveries("node-a", 10, LEASE) == []

        # Failed: one delivery to the webhook, one to the run's callback.
        loud = await _ended_run(store, script.id, callback="http://10.0.0.7/cb")
        await store.finish_execution(loud, _result("failed", 500))
        listed = await store.list_deliveries("acme", script.id, loud)
        assert sorted(d.url for d in listed) == ["http://10.0.0.7/cb", hook.url]
        assert all(d.state == "pending" and d.event == "failed" for d in listed)
        with pytest.raises(ScriptNotFound):
            await store.list_deliveries("other", script.id, loud)
        # Another id of the same form (its last digit changed): no such run.
        other = quiet[:-1] + ("0" if quiet[-1] != "0" else "1")
        with pytest.raises(ExecutionNotFound):
            await store.list_deliveries("acme", script.id, other)

        claimed = await store.claim_deliveries("node-a", 10, LEASE)
        assert len(claimed) == 2 and all(c.attempt == 1 for c in claimed)
        assert await store.claim_deliveries("node-b", 10, LEASE) == []  # held
        body = json.loads(claimed[0].payload)
        assert body["executionId"] == loud and body["statusCode"] == 500
        assert body["state"] == "failed" and body["scriptId"] == script.id
        assert body["logUrl"].endswith(f"/scripting/log/script/{script.id}/execution/{loud}")

        (first,) = [c for c in claimed if c.url == hook.url]
        (second,) = [c for c in claimed if c.url != hook.url]
        assert (
            await store.record_attempt(
                first,
                node="node-a",
                status_code=204,
                error=None,
                duration_ms=3,
                delivered=True,
                retry_in=0,
            )
            == "delivered"
        )
        # Not answered: due again after the back-off, then given up past its 24 hours.
        assert (
            await store.record_attempt(
                second,
                node="node-a",
                status_code=None,
                error="refused",
                duration_ms=1,
                delivered=False,
                retry_in=60,
            )
            == "pending"
        )
        assert await store.next_delivery_due() == T0 + dt.timedelta(seconds=60)
        assert await store.claim_deliveries("node-b", 10, LEASE) == []  # not due yet
        clock.now = T0 + dt.timedelta(seconds=61)
        (again,) = await store.claim_deliveries("node-b", 10, LEASE)
        assert again.attempt == 2
        clock.now = T0 + dt.timedelta(hours=23, minutes=59)
        assert (
            await store.record_attempt(
                again,
                node="node-b",
                status_code=503,
                error="the receiver answered 503",
                duration_ms=2,
                delivered=False,
                retry_in=120,
            )
            == "failed"
        )
        assert await store.next_delivery_due() is None
        by_url = {d.url: d for d in await store.list_deliveries("acme", script.id, loud)}
        assert by_url[hook.url].state == "delivered"
        assert [a.status_code for a in by_url[hook.url].attempts] == [204]
        given_up = by_url["http://10.0.0.7/cb"]
        assert given_up.state == "failed" and given_up.next_at is None
        assert [(a.attempt, a.node, a.status_code) for a in given_up.attempts] == [
            (1, "node-a", None),
            (2, "node-b", 503),
        ]

        # The listing's last deliveries of each script: the newest ones, per tenant.
        other = await store.create_script("acme", "other", notebook("other"))
        last = await store.last_deliveries("acme", [script.id, other.id])
        assert list(last) == [script.id]
        assert {d.id for d in last[script.id]} == {d.id for d in by_url.values()}
        assert [len(d.attempts) for d in last[script.id]] == [
            len(d.attempts) for d in sorted(by_url.values(), key=lambda d: d.id, reverse=True)
        ]
        assert len((await store.last_deliveries("acme", [script.id], per_script=1))[script.id]) == 1
        assert await store.last_deliveries("other", [script.id]) == {}
        assert await store.last_deliveries("acme", []) == {}
    finally:
        await store.close()


async def test_a_claim_whose_lease_ran_out_is_taken_over_and_its_holder_records_nothing(
    backend: Backend,
) -> None:
    clock = Clock(T0)
    store = backend.store(clock=clock)
    await store.start()
    try:
        script = await store.create_script("acme", "report", notebook("report"))
        run = await _ended_run(store, script.id, callback="http://10.0.0.7/cb")
        await store.finish_execution(run, _result())
        (held,) = await store.claim_deliveries("dead-node", 10, LEASE)
        assert await store.next_delivery_due() == T0 + LEASE
        clock.now = T0 + LEASE + dt.timedelta(seconds=1)
        (taken,) = await store.claim_deliveries("live-node", 10, LEASE)
        assert taken.attempt == 1 and taken.claim != held.claim
        late = dict(status_code=200, error=None, duration_ms=1.0, delivered=True, retry_in=0.0)
        assert await store.record_attempt(held, node="dead-node", **late) is None
        assert await store.record_attempt(taken, node="live-node", **late) == "delivered"
        (delivery,) = await store.list_deliveries("acme", script.id, run)
        assert [a.node for a in delivery.attempts] == ["live-node"]

        # A node that stops gives its claims back: due again at once.
        other = await _ended_run(store, script.id, callback="http://10.0.0.7/cb")
        await store.finish_execution(other, _result())
        assert len(await store.claim_deliveries("stopping", 10, LEASE)) == 1
        assert await store.release_deliveries("stopping") == 1
        assert len(await store.claim_deliveries("next", 10, LEASE)) == 1
    finally:
        await store.close()


async def test_signing_secrets_are_kept_per_tenant(backend: Backend) -> None:
    store = backend.store()
    await store.start()
    try:
        assert await store.get_signing_secret("acme") is None
        first, made = await store.put_signing_secret("acme", b"one", replace=False)
        assert made and first.secret == b"one"
        kept, made = await store.put_signing_secret("acme", b"two", replace=False)
        assert not made and kept.secret == b"one"
        rotated, _ = await store.put_signing_secret("acme", b"three", replace=True)
        assert rotated.secret == b"three"
        assert await store.get_signing_secret("other") is None
    finally:
        await store.close()


@pytest.mark.postgresql
async def test_three_nodes_sharing_postgresql_send_each_attempt_once() -> None:
    with postgresql_backend() as shared:
        clock = Clock(T0)
        stores = [shared.store(clock=clock) for _ in range(3)]
        for store in stores:
            await store.start()
        try:
            script = await stores[0].create_script("acme", "report", notebook("report"))
            runs = []
            for _ in range(20):
                run = await _ended_run(stores[0], script.id, callback="http://10.0.0.7/cb")
                await stores[0].finish_execution(run, _result())
                runs.append(run)
            attempts: list[tuple[str, int]] = []
            for round_ in range(3):  # each round: all fail, due again 10 s later
                clock.now = T0 + dt.timedelta(seconds=11 * round_)
                found = await asyncio.gather(
                    *(s.claim_deliveries(f"node-{i}", 7, LEASE) for i, s in enumerate(stores * 2))
                )
                claimed = [c for batch in found for c in batch]
                attempts += [(c.id, c.attempt) for c in claimed]
                for c in claimed:
                    await stores[0].record_attempt(
                        c,
                        node="n",
                        status_code=500,
                        error="x",
                        duration_ms=1,
                        delivered=False,
                        retry_in=10,
                    )
            assert len(attempts) == len(set(attempts))  # no attempt claimed twice
            assert sorted(n for _, n in attempts) == sorted([1, 2, 3] * 20)
        finally:
            for store in stores:
                await store.close()


# -- end to end, against a local receiver ----------------------------------------------------
class Receiver:
    """A webhook receiver on 127.0.0.1: answers ``failures`` times 500, then 200."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.received: list[tuple[dict[str, str], bytes, float]] = []
        self.arrived = asyncio.Event()
        receiver = self

        class Hook(tornado.web.RequestHandler):
            def post(self) -> None:
                receiver.received.append(
                    (dict(self.request.headers), self.request.body, time.monotonic())
                )
                receiver.arrived.set()
                if receiver.failures > 0:
                    receiver.failures -= 1
                    self.set_status(500)
                self.finish()

        sockets = bind_sockets(0, "127.0.0.1")
        self.port = sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.server = HTTPServer(tornado.web.Application([("/hook", Hook)]))
        self.server.add_sockets(sockets)

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture
def jp_server_config() -> Any:
    return server_config(
        sync_timeout=30.0,
        shutdown_grace=3.0,
        queue_poll_interval=0.5,
        webhook_allowed_hosts=["127.0.0.1"],
        webhook_backoff=0.2,
        webhook_interval=0.5,
        webhook_timeout=5.0,
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.stop()


async def _deliveries(api: Any, script_id: str, execution_id: str) -> list[dict[str, Any]]:
    path = ("scripting", "log", "script", script_id, "execution", execution_id, "deliveries")
    answer = await api(*path)
    assert answer.code == 200, answer.body
    return list(body_json(answer)["deliveries"])


async def _settled(api: Any, script_id: str, execution_id: str) -> list[dict[str, Any]]:
    for _ in range(300):
        found = await _deliveries(api, script_id, execution_id)
        if found and all(d["state"] != "pending" for d in found):
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"the deliveries did not settle: {found}")


async def test_signed_deliveries_and_a_receiver_that_fails_twice(
    api: Any, publish: Any, receiver: Receiver
) -> None:
    script_id = await publish(notebook_of("response.write('done')"))
    hook = {"url": receiver.url, "events": ["finished", "failed"]}
    patched = await api(
        "scripting", "script", script_id, method="PATCH", body=json.dumps({"webhook": hook})
    )
    assert patched.code == 200, patched.body
    answer = body_json(patched)
    assert answer["webhook"] == {**hook, "sync": False}
    secret = answer["signingSecret"]  # this tenant's first webhook: shown once
    again = await api(
        "scripting", "script", script_id, method="PATCH", body=json.dumps({"webhook": hook})
    )
    assert "signingSecret" not in body_json(again)
    info = body_json(await api("scripting", "webhook", "secret"))
    assert info["configured"] is True and "secret" not in info

    receiver.failures = 2
    queued = await api("scripting", "script", script_id, "background", method="POST", body="{}")
    assert queued.code == 202
    execution_id = body_json(queued)["executionId"]
    (delivery,) = await _settled(api, script_id, execution_id)
    assert delivery["state"] == "delivered" and delivery["url"] == receiver.url
    assert [a["statusCode"] for a in delivery["attempts"]] == [500, 500, 200]
    assert [a["attempt"] for a in delivery["attempts"]] == [1, 2, 3]
    assert delivery["attempts"][0]["error"] == "the receiver answered 500"
    assert len(receiver.received) == 3
    gaps = [b[2] - a[2] for a, b in zip(receiver.received, receiver.received[1:], strict=False)]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4  # backed off, doubling
    for headers, body, _ in receiver.received:
        assert webhooks.verify(secret, headers["X-Scripting-Signature"], body)
        assert headers["X-Scripting-Delivery"] == delivery["deliveryId"]
        assert headers["Content-Type"] == "application/json"
    assert [h["X-Scripting-Attempt"] for h, _, _ in receiver.received] == ["1", "2", "3"]
    sent = json.loads(receiver.received[0][1])
    assert sent["executionId"] == execution_id and sent["scriptId"] == script_id
    assert (sent["state"], sent["statusCode"], sent["event"]) == ("finished", 200, "finished")
    assert sent["durationMs"] > 0 and sent["logUrl"].startswith("http")
    assert sent["logUrl"].endswith(f"/scripting/log/script/{script_id}/execution/{execution_id}")

    # A new secret replaces the old one at once: the next delivery is signed with it.
    rotated = await api("scripting", "webhook", "secret", method="POST")
    assert rotated.code == 201
    new_secret = body_json(rotated)["secret"]
    assert new_secret != secret
    queued = await api("scripting", "script", script_id, "background", method="POST", body="{}")
    await _settled(api, script_id, body_json(queued)["executionId"])
    headers, body, _ = receiver.received[-1]
    assert webhooks.verify(new_secret, headers["X-Scripting-Signature"], body)
    assert not webhooks.verify(secret, headers["X-Scripting-Signature"], body)

    # The listing shows the script's last deliveries, newest first.
    listed = body_json(await api("scripting", "script"))["scripts"]
    (mine,) = [s for s in listed if s["scriptId"] == script_id]
    assert [d["executionId"] for d in mine["lastDeliveries"]] == [
        body_json(queued)["executionId"],
        execution_id,
    ]
    assert [d["state"] for d in mine["lastDeliveries"]] == ["delivered", "delivered"]
    assert [a["statusCode"] for a in mine["lastDeliveries"][1]["attempts"]] == [500, 500, 200]

    # Removed: runs end without deliveries.
    cleared = await api("scripting", "script", script_id, method="PATCH", body='{"webhook": null}')
    assert body_json(cleared)["webhook"] is None


async def test_a_failed_sync_run_is_delivered_to_a_per_call_callback(
    api: Any, publish: Any, receiver: Receiver
) -> None:
    script_id = await publish(notebook_of("raise ValueError('no')"))
    ran = await api(
        "scripting",
        "script",
        script_id,
        "run",
        method="POST",
        body="{}",
        headers={"X-Scripting-Callback": receiver.url + "?run=1"},
    )
    assert ran.code == 502
    execution_id = ran.headers["X-Execution-Id"]
    (delivery,) = await _settled(api, script_id, execution_id)
    assert delivery["state"] == "delivered" and delivery["url"] == receiver.url + "?run=1"
    sent = json.loads(receiver.received[-1][1])
    assert (sent["event"], sent["statusCode"], sent["mode"]) == ("failed", 502, "sync")
    assert sent["reason"] == "script-error"


@pytest.mark.parametrize(
    ("patch", "status"),
    [
        ({"url": "http://169.254.169.254/latest/meta-data"}, 403),
        ({"url": "http://10.0.0.7/hook"}, 403),
        ({"url": "http://[::1]:8888/"}, 403),
        ({"url": "http://no-such-host.invalid/"}, 400),
        ({"url": "gopher://example.com/"}, 400),
        ("http://example.com/", 400),
    ],
)
async def test_refused_webhooks_answer_why(api: Any, publish: Any, patch: Any, status: int) -> None:
    script_id = await publish(notebook_of("1"))
    answer = await api(
        "scripting", "script", script_id, method="PATCH", body=json.dumps({"webhook": patch})
    )
    assert answer.code == status, answer.body
    error = body_json(answer)
    assert error["message"]
    if status == 403:
        assert error["reason"] == "callback-refused"
    assert body_json(await api("scripting", "script", script_id))["webhook"] is None


async def test_a_callback_to_a_host_not_allow_listed_is_refused_and_runs_nothing(
    api: Any, publish: Any, jp_serverapp: Any
) -> None:
    script_id = await publish(notebook_of("response.write('ran')"))
    for route, target in (("run", "http://93.184.216.34/x"), ("background", "http://10.0.0.7/")):
        answer = await api(
            "scripting",
            "script",
            script_id,
            route,
            method="POST",
            body="{}",
            headers={"X-Scripting-Callback": target},
        )
        assert answer.code == 403, answer.body
        assert body_json(answer)["reason"] == "callback-refused"
    bad = await api(
        "scripting",
        "script",
        script_id,
        "run",
        method="POST",
        body="{}",
        headers={"X-Scripting-Callback": "not a url"},
    )
    assert bad.code == 400
    assert body_json(await api("scripting", "log", "script", script_id))["filteredLogs"] == []
    # Another tenant sees neither the run's deliveries nor the secret.
    service = scripting_app(jp_serverapp).service
    ran = await api("scripting", "script", script_id, "run", method="POST", body="{}")
    with pytest.raises(ScriptNotFound):
        await service.list_deliveries("other", script_id, ran.headers["X-Execution-Id"])
    assert await service.signing_secret_info("other") is None


# -- a restart between two attempts --------------------------------------------------------
class ThreadedReceiver:
    """A receiver in a thread (for a test that drives a server process): 500 until
    ``healthy``, then 204."""

    def __init__(self) -> None:
        self.healthy = False
        self.attempts: list[str] = []
        receiver = self

        class Hook(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                receiver.attempts.append(self.headers["X-Scripting-Attempt"])
                self.send_response(204 if receiver.healthy else 500)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.run_path
def test_a_restart_between_attempts_loses_no_delivery(tmp_path: Path) -> None:
    receiver = ThreadedReceiver()
    server = ServerProcess(
        tmp_path,
        "--ScriptingApp.webhook_allowed_hosts=127.0.0.1",
        "--ScriptingApp.webhook_backoff=4",
        "--ScriptingApp.webhook_interval=0.5",
    )
    try:
        server.start()
        script_id = server.publish(notebook_of("response.write('done')"))
        status, _ = server.call(
            f"scripting/script/{script_id}", "PATCH", {"webhook": {"url": receiver.url}}
        )
        assert status == 200
        status, body = server.call(f"scripting/script/{script_id}/background", "POST", {})
        execution_id = json.loads(body)["executionId"]
        path = f"scripting/log/script/{script_id}/execution/{execution_id}/deliveries"

        def deliveries() -> list[dict[str, Any]]:
            return list(json.loads(server.call(path)[1])["deliveries"])

        wait_for(lambda: deliveries() and deliveries()[0]["attempts"], 60, "the first attempt")
        server.kill()  # between the first attempt and the second
        receiver.healthy = True
        server.start()
        (delivered,) = wait_for(
            lambda: [d for d in deliveries() if d["state"] == "delivered"], 60, "the delivery"
        )
        assert [a["statusCode"] for a in delivered["attempts"]] == [500, 204]
        assert receiver.attempts == ["1", "2"]
    finally:
        server.stop()
        receiver.stop()
