"""Every setting the README documents is a ``ScriptingApp`` trait, and each one, set to a
value other than its default, reaches the part that uses it (no setting silently ignored,
none overridden by another default on the way).

The table of the README's Configuration section is the list: a trait missing from it, or
a documented one this module does not set, fails here. What each setting then does to a
run (a timeout's 504, a limit's 502, ...) is tested in the modules named for it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from jupyter_server.extension.application import ExtensionApp
from traitlets.config import Config

from jupyter_scripting.app import ScriptingApp
from jupyter_scripting.store.records import ExecutionResult

from .helpers import body_json, scripting_app, server_config

README = Path(__file__).parent.parent / "README.md"

#: Each documented trait, and a value other than its default.
VALUES: dict[str, Any] = {
    "max_sync_runs_per_tenant": 3,
    "sync_timeout": 12.5,
    "max_background_runs": 7,
    "background_timeout": 99.0,
    "shutdown_grace": 4.0,
    "queue_poll_interval": 0.75,
    "schedule_interval": 2.5,
    "node_name": "settings-node",
    "heartbeat_interval": 1.5,
    "node_timeout": 9.0,
    "max_node_background_runs": 2,
    "max_header_size": 6000,
    "max_body_size": 2000,
    "max_output_size": 3000,
    "database_url": None,  # a file of this test's own (below)
    "log_retention_days": 2.0,
    "log_retention_count": 2,
    "log_retention_interval": 1234.0,
    "kernel_pool_size": 0,
    "fork_kernelspecs": ["python3", "other"],
    "kernel_startup_timeout": 7.0,
    "kernel_env_denylist": "(?i)^SETTINGS_TEST_HIDDEN$",
    "kernel_extra_env": {"SETTINGS_TEST_ADDED": "yes"},
    "sandbox": "off",
    "sandbox_read_paths": ["/srv/settings-test"],
    "sandbox_network": False,
    "sandbox_exempt_kernelspecs": ["other"],
    "run_memory_limit": 123 << 20,
    "run_max_processes": 33,
    "run_max_file_size": 5 << 20,
    "run_tmp_size": 6 << 20,
    "webhook_allowed_hosts": ["hooks.internal", "10.1.0.0/16"],
    "webhook_retry_hours": 2.0,
    "webhook_backoff": 3.0,
    "webhook_timeout": 4.0,
    "webhook_interval": 6.0,
    "webhook_max_concurrent": 3,
    "public_url": "https://scripts.example.com/base/",
    "secret_key": "y8cZtZsTJbTHPIB7R1uNxWTdQoFFjAaiA6QHT4ExNrg=",
    "secret_key_file": None,  # a file of this test's own (below)
}


def documented_traits() -> list[str]:
    """The trait names in the first column of the README's Configuration table."""
    text = README.read_text(encoding="utf-8")
    section = text.split("### Configuration", 1)[1].split("\n### ", 1)[0]
    return re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE)


def test_the_readme_documents_every_setting_and_this_module_sets_each() -> None:
    ours = set(ScriptingApp.class_traits(config=True)) - set(ExtensionApp.class_traits(config=True))
    documented = documented_traits()
    assert len(documented) == len(set(documented))
    assert set(documented) == ours
    assert set(VALUES) == ours
    defaults = ScriptingApp()
    for name, value in VALUES.items():
        if value is not None:
            assert getattr(defaults, name) != value, name


@pytest.fixture
def jp_server_config(tmp_path: Path) -> Config:
    values = {
        **VALUES,
        "database_url": f"sqlite:///{tmp_path / 'settings.sqlite'}",
        "secret_key_file": str(tmp_path / "unused.key"),
    }
    return server_config(**values)


@pytest.fixture
def app(jp_serverapp: Any) -> Any:
    return scripting_app(jp_serverapp)


async def test_each_setting_reaches_what_uses_it(
    app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits = app.service.limits
    for name in (
        "max_sync_runs_per_tenant",
        "sync_timeout",
        "max_background_runs",
        "background_timeout",
        "shutdown_grace",
        "queue_poll_interval",
        "schedule_interval",
        "max_node_background_runs",
        "heartbeat_interval",
        "node_timeout",
    ):
        assert getattr(limits, name) == VALUES[name], name
    assert app.service.background.poll_interval == VALUES["queue_poll_interval"]
    assert app.service.background.max_running() == VALUES["max_node_background_runs"]
    assert app.service.node == VALUES["node_name"]
    membership = app.service.membership
    assert membership.node == VALUES["node_name"]
    assert membership.heartbeat_interval == VALUES["heartbeat_interval"]
    assert membership.node_timeout == VALUES["node_timeout"]
    assert membership.deadlines == {
        "sync": VALUES["sync_timeout"],
        "background": VALUES["background_timeout"],
    }
    assert app.service.runner.max_output_size == VALUES["max_output_size"]

    kernels = app.kernels
    assert kernels.pool_size == VALUES["kernel_pool_size"]
    assert kernels.fork_kernelspecs == VALUES["fork_kernelspecs"]
    assert kernels.startup_timeout == VALUES["kernel_startup_timeout"]
    monkeypatch.setenv("SETTINGS_TEST_HIDDEN", "1")
    monkeypatch.setenv("SETTINGS_TEST_SHOWN", "1")
    env = kernels.kernel_env()
    assert "SETTINGS_TEST_HIDDEN" not in env and env["SETTINGS_TEST_SHOWN"] == "1"
    assert env["SETTINGS_TEST_ADDED"] == "yes"

    policy = app.sandbox_policy
    assert (policy.mode, policy.active) == ("off", False)
    assert policy.read_paths == VALUES["sandbox_read_paths"]
    assert policy.network is VALUES["sandbox_network"]
    assert policy.exempt_kernelspecs == VALUES["sandbox_exempt_kernelspecs"]
    for name in ("run_memory_limit", "run_max_processes", "run_max_file_size", "run_tmp_size"):
        assert getattr(policy.limits, name) == VALUES[name], name

    webhooks = app.service.webhooks
    for name in (
        "webhook_allowed_hosts",
        "webhook_retry_hours",
        "webhook_backoff",
        "webhook_timeout",
        "webhook_interval",
        "webhook_max_concurrent",
    ):
        assert getattr(webhooks.settings, name) == VALUES[name], name
    assert webhooks.allowed.names == {"hooks.internal"}
    rules = app.store.delivery_rules
    assert (
        rules.log_url("s", "e")
        == "https://scripts.example.com/base/scripting/log/script/s/execution/e"
    )
    assert rules.retry_for == dt.timedelta(hours=VALUES["webhook_retry_hours"])
    from cryptography.fernet import Fernet

    token = Fernet(VALUES["secret_key"].encode()).encrypt(b"made elsewhere")
    assert webhooks.keyring.decrypt(token) == "made elsewhere"  # the key given is the key
    assert not (tmp_path / "unused.key").exists()  # secret_key wins over secret_key_file

    assert app.store.sqlite_directory == str(tmp_path)
    await app.service.ensure_ready()
    assert (tmp_path / "settings.sqlite").is_file()


async def test_the_size_limits_answer(api: Any) -> None:
    answer = await api("scripting", "script", headers={"X-Padding": "x" * 6000})
    assert answer.code == 431, answer.body
    answer = await api("scripting", "script", method="POST", body=b"{" + b" " * 2000 + b"}")
    assert answer.code == 413, answer.body
    assert body_json(answer)["reason"] == "body-too-large"


async def test_log_retention_keeps_what_the_settings_say(
    app: Any, jp_serverapp: Any, publish: Any
) -> None:
    # What jupyter_server does when it starts (pytest-jupyter's server never starts).
    await app._start_jupyter_server_extension(jp_serverapp)
    await asyncio.wait_for(app._retention_start, 5)
    script_id = await publish("hello")
    assert app._retention.callback_time == VALUES["log_retention_interval"] * 1000
    store = app.store
    now = dt.datetime.now(dt.UTC)

    async def finished(days_ago: float) -> str:
        store._clock = lambda: now - dt.timedelta(days=days_ago)
        record = await store.create_execution(
            execution_id=str(uuid.uuid4()),
            tenant="default",
            script_id=script_id,
            version=1,
            mode="sync",
            method="POST",
            state="running",
        )
        await store.finish_execution(
            record.id,
            ExecutionResult(
                state="finished",
                status_code=200,
                reason=None,
                content=b"{}",
                content_type="application/json",
                notebook=None,
                started_at=now,
                finished_at=now,
                duration_ms=1.0,
            ),
        )
        return record.id

    old = await finished(3)  # older than log_retention_days
    kept = [await finished(1.5 - i * 0.1) for i in range(4)]
    await app._prune()
    listed, _ = await store.list_executions("default", script_id)
    # Two days keep the four recent ones; a count of 2 keeps the newest two of them.
    assert [e.id for e in listed] == kept[:1:-1]
    assert old not in {e.id for e in listed}


def test_a_setting_given_to_a_part_instead_is_not_silently_ignored(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The parts take their settings from ScriptingApp only; configuring them directly
    (as an older version allowed) says so in the log, and changes nothing."""
    from jupyter_scripting.execution.pool import KernelPool

    config = Config()
    config.KernelProvider.startup_timeout = 5.0
    config.KernelPool.pool_size = 9
    with caplog.at_level("WARNING"):
        pool = KernelPool(config=config, startup_timeout=60.0)
    try:
        assert (pool.startup_timeout, pool.pool_size) == (60.0, 0)
    finally:
        pool._context.destroy(linger=0)  # the pool's ZeroMQ context (no kernel was started)
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "`startup_timeout` not recognized" in warned and "`pool_size` not recognized" in warned
