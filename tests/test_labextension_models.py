"""The labextension's API client is tested (jest) against the shapes in
``labextension/src/__tests__/models.json``; this keeps them the server's shapes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from jupyter_scripting.models import execution_model, script_list_item, script_model
from jupyter_scripting.store.records import ExecutionRecord, ScheduleRecord, ScriptRecord

FIXTURES = Path(__file__).parents[1] / "labextension" / "src" / "__tests__" / "models.json"
NOW = dt.datetime(2026, 11, 29, 10, 0, 5, tzinfo=dt.UTC)


def types_of(model: dict[str, Any]) -> dict[str, str]:
    return {key: type(value).__name__ for key, value in model.items()}


def test_script_shape_is_the_servers() -> None:
    fixture = json.loads(FIXTURES.read_text(encoding="utf-8"))["script"]
    record = ScriptRecord(fixture["scriptId"], "default", "hello", 2, NOW, NOW, None)
    model = script_model(record)
    assert types_of(model) == types_of(fixture)


def execution_record(fixture: dict[str, Any]) -> ExecutionRecord:
    """The record an execution of the fixture's shape comes from."""
    return ExecutionRecord(
        id=fixture["executionId"],
        script_id=fixture["scriptId"],
        version=2,
        tenant="default",
        mode="sync",
        method="POST",
        state="finished",
        status_code=200,
        reason=None,
        created_at=NOW,
        started_at=NOW,
        finished_at=NOW,
        duration_ms=41.73,
        content_type="text/plain; charset=utf-8",
    )


def test_execution_shape_is_the_servers() -> None:
    fixture = json.loads(FIXTURES.read_text(encoding="utf-8"))["execution"]
    model = execution_model(execution_record(fixture))
    assert types_of(model) == types_of(fixture)
    assert model["executionDate"] == fixture["executionDate"]
    assert model["durationMs"] == fixture["durationMs"]


def test_script_list_item_shape_is_the_servers() -> None:
    fixture = json.loads(FIXTURES.read_text(encoding="utf-8"))["scriptListItem"]
    record = ScriptRecord(fixture["scriptId"], "default", "hello", 2, NOW, NOW, None)
    last, planned = fixture["lastExecution"], fixture["nextScheduledRun"]
    schedule = ScheduleRecord(
        id=planned["scheduleId"],
        tenant="default",
        script_id=fixture["scriptId"],
        cron=planned["cron"],
        timezone=planned["timezone"],
        body=None,
        enabled=True,
        catch_up="skip",
        next_at=dt.datetime(2026, 11, 30, 8, tzinfo=dt.UTC),
        last_tick_at=None,
        last_execution_id=None,
        created_at=NOW,
        updated_at=NOW,
    )
    model = script_list_item(record, execution_record(last), schedule)
    assert types_of(model) == types_of(fixture)
    assert types_of(model["lastExecution"]) == types_of(last)
    assert model["nextScheduledRun"] == planned
    bare = script_list_item(record, None)
    assert bare["lastExecution"] is None and bare["nextScheduledRun"] is None


def test_error_shape_is_the_servers() -> None:
    from jupyter_scripting.errors import ScriptNotFound

    fixture = json.loads(FIXTURES.read_text(encoding="utf-8"))["error"]
    error = ScriptNotFound("3f0c2a4e-8d1b-4c6f-9a57-0e2b7d9c1f30")
    assert (error.message, error.reason) == (fixture["message"], fixture["reason"])
    assert error.status == 404
