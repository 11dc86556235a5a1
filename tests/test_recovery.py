"""Nothing accepted is lost (README, "Background runs"): after kill -9 and a restart every
queued run still runs and the one that was executing is logged as interrupted; on SIGTERM
synchronous runs finish within the grace period and queued runs wait for the next start."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from .helpers import notebook_of, wait_for
from .server_process import ServerProcess

# Each scenario is a class of its own so that xdist (--dist loadscope) may run them on
# two workers at once: they are the longest of the run-path tests.
pytestmark = pytest.mark.run_path


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(
        tmp_path,
        "--ScriptingApp.max_background_runs=1",
        "--ScriptingApp.queue_poll_interval=0.5",
        # The grace leaves the 3-second synchronous run of TestSigterm room for a kernel
        # start under CI's load (6 s was missed once), and still cuts the 60-second blocker.
        "--ScriptingApp.shutdown_grace=15",
    )
    try:
        yield process
    finally:
        process.stop()


class TestKill9:
    """kill -9 mid-run, then a restart: every accepted run ends in the log."""

    def test_kill_9_then_restart_loses_nothing(self, server: ServerProcess) -> None:
        server.start()
        script_id = server.publish(notebook_of("import time; time.sleep(2)", "print('done')"))
        accepted = []
        for _ in range(5):
            status, body = server.call(f"scripting/script/{script_id}/background", "POST", {})
            assert status == 202
            accepted.append(json.loads(body)["executionId"])
        # One runs (the limit is 1), four wait in the queue.
        wait_for(
            lambda: any(e["state"] == "running" for e in server.log_entries(script_id)),
            30,
            "a running background run",
        )
        assert server.process is not None
        kernels = psutil.Process(server.process.pid).children(recursive=True)
        server.kill()
        # ipykernel exits when its parent dies.
        _, alive = psutil.wait_procs(kernels, timeout=15)
        assert alive == []

        server.start()

        def all_ended() -> list[dict] | None:
            entries = server.log_entries(script_id)
            return entries if all(e["state"] in ("finished", "failed") for e in entries) else None

        done = wait_for(all_ended, 90, "every accepted run to end in the log")
        assert sorted(e["executionId"] for e in done) == sorted(accepted)
        outcomes = sorted((e["statusCode"], e["state"]) for e in done)
        assert outcomes == [(200, "finished")] * 4 + [(500, "failed")]
        (interrupted,) = [e for e in done if e["statusCode"] == 500]
        status, body = server.call(
            f"scripting/log/script/{script_id}/execution/{interrupted['executionId']}"
        )
        assert status == 200
        assert json.loads(body)["reason"] == "interrupted"


class TestSigterm:
    """SIGTERM with runs in progress, then a restart: the queue is kept."""

    def test_sigterm_lets_sync_runs_finish_and_keeps_the_queue(self, server: ServerProcess) -> None:
        server.start()
        slow = server.publish(notebook_of("import time; time.sleep(3)", "print('finished')"))
        blocker = server.publish(notebook_of("import time; time.sleep(60)"), name="blocker")
        status, _ = server.call(f"scripting/script/{blocker}/background", "POST", {})
        assert status == 202
        queued = []
        for _ in range(3):
            status, body = server.call(f"scripting/script/{slow}/background", "POST", {})
            queued.append(json.loads(body)["executionId"])
        wait_for(
            lambda: any(e["state"] == "running" for e in server.log_entries(blocker)),
            30,
            "the blocking background run to start",
        )
        answers: list[tuple[int, bytes]] = []
        in_flight = threading.Thread(
            target=lambda: answers.append(server.call(f"scripting/script/{slow}/run")), daemon=True
        )
        in_flight.start()
        wait_for(
            lambda: any(
                e["state"] == "running" and e["mode"] == "sync" for e in server.log_entries(slow)
            ),
            30,
            "the synchronous run to start",
        )
        server.signal(signal.SIGTERM)
        assert server.wait(60) == 0, server.log()
        in_flight.join(10)
        assert answers == [(200, b"finished")]  # finished within the grace period

        server.start()

        # The queued runs were kept and run now; the blocker (past the grace) was interrupted.
        def queued_ran() -> list[dict] | None:
            entries = [e for e in server.log_entries(slow) if e["mode"] == "background"]
            return entries if all(e["state"] == "finished" for e in entries) else None

        entries = wait_for(queued_ran, 90, "the queued runs to run after the restart")
        assert sorted(e["executionId"] for e in entries) == sorted(queued)
        (blocked,) = server.log_entries(blocker)
        assert (blocked["statusCode"], blocked["state"]) == (500, "failed")
