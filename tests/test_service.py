"""The service's own rules in milliseconds: a runner of the test's own (the service's
``RunnerProtocol``: runs that end when the test says, no kernel) on a real SQLite store.

Slot accounting on every way out of a run, a caller that goes away, and shutdown; the
same rules with real kernels are in test_concurrency.py and test_recovery.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import nbformat
import pytest

from jupyter_scripting.errors import KernelDied, ScriptingError, ServiceStopping
from jupyter_scripting.execution.answer import Answer
from jupyter_scripting.execution.kernels import Lease
from jupyter_scripting.execution.outcome import Answered, Failed, RunOutcome
from jupyter_scripting.execution.runner import RunRequest
from jupyter_scripting.execution.sandbox_policy import Sandbox
from jupyter_scripting.service import Limits, ScriptingService, SyncRun, TenantBusy
from jupyter_scripting.store.service import Store

NOTEBOOK = nbformat.writes(nbformat.v4.new_notebook())
REQUEST = RunRequest("POST", "/run", {}, [], b"{}")


class Kernels:
    """The kernel provider's part the service uses: its shutdown."""

    sandbox: Sandbox | None = None

    def __init__(self) -> None:
        self.stopped = asyncio.Event()

    def lease(self, kernel_name: str) -> Lease:
        raise AssertionError("this runner starts no kernel")

    async def shutdown(self) -> None:
        self.stopped.set()


class GatedRunner:
    """Each run waits until the test ends it: ``finish(execution_id, outcome)``; a run
    still waiting when the kernels shut down ends as a stopped kernel would."""

    def __init__(self) -> None:
        self._kernels = Kernels()
        self.started: asyncio.Queue[str] = asyncio.Queue()
        self._ends: dict[str, asyncio.Future[RunOutcome | BaseException]] = {}

    @property
    def kernels(self) -> Kernels:
        return self._kernels

    async def run(
        self,
        notebook: str,
        request: RunRequest,
        *,
        execution_id: str,
        timeout: float,
        parameters: object = None,
        events: object = None,
        variables: object = None,
    ) -> RunOutcome:
        end = self._ends[execution_id] = asyncio.get_running_loop().create_future()
        self.started.put_nowait(execution_id)
        stopped = asyncio.ensure_future(self._kernels.stopped.wait())
        try:
            await asyncio.wait([end, stopped], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
        if not end.done():
            return failed(KernelDied("The run's kernel was stopped while the script ran."))
        result = end.result()
        if isinstance(result, BaseException):
            raise result
        return result

    def finish(self, execution_id: str, outcome: RunOutcome | BaseException) -> None:
        self._ends[execution_id].set_result(outcome)


def answered(status: int = 200) -> Answered:
    now = dt.datetime.now(dt.UTC)
    return Answered(Answer(status, "application/json", b'{"ok": 1}'), NOTEBOOK, now, now, 1.0)


def failed(error: ScriptingError) -> Failed:
    now = dt.datetime.now(dt.UTC)
    return Failed(error, NOTEBOOK, now, now, 1.0)


@contextlib.asynccontextmanager
async def running(tmp_path: Path) -> AsyncIterator[tuple[ScriptingService, GatedRunner]]:
    """A started service on a store in ``tmp_path`` with a gated runner; stopped after."""
    limits = Limits(
        max_sync_runs_per_tenant=2,
        sync_timeout=30.0,
        max_background_runs=4,
        background_timeout=30.0,
        shutdown_grace=0.3,
        queue_poll_interval=0.1,
        max_node_background_runs=None,
        heartbeat_interval=0.2,
        node_timeout=5.0,
    )
    runner = GatedRunner()
    store = Store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    service = ScriptingService(store, runner, limits, node="test-node")
    await service.start()
    try:
        yield service, runner
    finally:
        if not service._stopping:
            await service.stop()


def answering(
    service: ScriptingService, run: Coroutine[Any, Any, SyncRun]
) -> asyncio.Task[SyncRun]:
    """The run, counted as a request being answered (as the run handler counts it: shutdown
    waits for those)."""
    service.answering.begin()
    task = asyncio.ensure_future(run)
    task.add_done_callback(lambda _: service.answering.end())
    return task


async def started(runner: GatedRunner) -> str:
    return await asyncio.wait_for(runner.started.get(), 5)


async def logged(service: ScriptingService, tenant: str, script_id: str, eid: str) -> dict:
    record, content = await service.store.get_execution(tenant, script_id, eid)
    return {"state": record.state, "status": record.status_code, "content": json.loads(content)}


async def test_slots_are_per_tenant_and_come_back_on_every_way_out(tmp_path: Path) -> None:
    async with running(tmp_path) as (service, runner):
        alice = (await service.create_script("alice", "a", NOTEBOOK)).id
        bob = (await service.create_script("bob", "b", NOTEBOOK)).id
        first = asyncio.ensure_future(service.run_sync("alice", alice, REQUEST))
        second = asyncio.ensure_future(service.run_sync("alice", alice, REQUEST))
        one, two = await started(runner), await started(runner)
        with pytest.raises(TenantBusy) as busy:
            await service.run_sync("alice", alice, REQUEST)
        assert busy.value.status == 429
        theirs = asyncio.ensure_future(service.run_sync("bob", bob, REQUEST))  # not affected
        runner.finish(await started(runner), answered())
        assert (await theirs).outcome.status == 200
        assert service.sync_runs_in_flight == 2

        # An answer, a failure, an error the runner raised: each gives its slot back.
        runner.finish(one, answered(201))
        runner.finish(two, failed(KernelDied("gone")))
        assert sorted([(await first).outcome.status, (await second).outcome.status]) == [201, 502]
        third = asyncio.ensure_future(service.run_sync("alice", alice, REQUEST))
        runner.finish(await started(runner), RuntimeError("the runner broke"))
        with pytest.raises(RuntimeError):
            await third
        assert service.sync_runs_in_flight == 0
        again = [asyncio.ensure_future(service.run_sync("alice", alice, REQUEST)) for _ in "ab"]
        for _ in again:  # both slots are free again
            runner.finish(await started(runner), answered())
        assert [(await run).outcome.status for run in again] == [200, 200]


async def test_a_caller_that_goes_away_frees_its_slot_and_is_logged_499(tmp_path: Path) -> None:
    async with running(tmp_path) as (service, runner):
        script = (await service.create_script("alice", "a", NOTEBOOK)).id
        run = asyncio.ensure_future(service.run_sync("alice", script, REQUEST))
        eid = await started(runner)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        assert service.sync_runs_in_flight == 0
        entry = await logged(service, "alice", script, eid)
        assert (entry["state"], entry["status"]) == ("failed", 499)
        assert entry["content"]["reason"] == "client-disconnected"


async def test_a_caller_gone_while_its_run_is_logged_gives_its_seat_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running(tmp_path) as (service, runner):
        script = (await service.create_script("alice", "a", NOTEBOOK)).id
        logging_it, go_on = asyncio.Event(), asyncio.Event()
        log_run = service.store.log_run

        async def slow_log_run(**kwargs: Any) -> Any:
            logging_it.set()
            await go_on.wait()
            return await log_run(**kwargs)

        monkeypatch.setattr(service.store, "log_run", slow_log_run)
        run = asyncio.ensure_future(service.run_sync("alice", script, REQUEST))
        await logging_it.wait()
        run.cancel()
        await asyncio.sleep(0)
        go_on.set()
        with pytest.raises(asyncio.CancelledError):
            await run
        monkeypatch.undo()
        (entry,), _ = await service.store.list_executions("alice", script)
        assert (entry.state, entry.status_code) == ("failed", 499)
        again = [asyncio.ensure_future(service.run_sync("alice", script, REQUEST)) for _ in "ab"]
        for _ in again:  # both seats are free: the gone caller's came back
            runner.finish(await started(runner), answered())
        assert [(await r).outcome.status for r in again] == [200, 200]


async def test_shutdown_lets_runs_finish_within_the_grace_and_takes_no_new_ones(
    tmp_path: Path,
) -> None:
    async with running(tmp_path) as (service, runner):
        script = (await service.create_script("alice", "a", NOTEBOOK)).id
        run = answering(service, service.run_sync("alice", script, REQUEST))
        eid = await started(runner)
        stopping = asyncio.ensure_future(service.stop())
        await asyncio.sleep(0.05)
        with pytest.raises(ServiceStopping) as refused:
            await service.run_sync("alice", script, REQUEST)
        assert refused.value.status == 503
        assert not runner.kernels.stopped.is_set()  # within the grace: the run goes on
        runner.finish(eid, answered())
        assert (await run).outcome.status == 200
        await stopping
        assert runner.kernels.stopped.is_set()


async def test_a_run_past_the_grace_is_stopped_and_logged_interrupted(tmp_path: Path) -> None:
    async with running(tmp_path) as (service, runner):
        script = (await service.create_script("alice", "a", NOTEBOOK)).id
        run = answering(service, service.run_sync("alice", script, REQUEST))
        eid = await started(runner)
        await service.stop()  # 0.3 s of grace, then the kernels are shut down
        outcome = (await run).outcome
        assert isinstance(outcome, Failed) and outcome.error.reason == "interrupted"
        assert outcome.status == 500
        reopened = Store(f"sqlite:///{tmp_path / 'store.sqlite'}")  # the service closed its own
        await reopened.start()
        try:
            record, content = await reopened.get_execution("alice", script, eid)
            assert (record.state, record.status_code) == ("failed", 500)
            assert json.loads(content)["reason"] == "interrupted"
        finally:
            await reopened.close()
