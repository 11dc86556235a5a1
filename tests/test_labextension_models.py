"""The labextension's API client is tested (jest) against the shapes in
``labextension/src/__tests__/models.json``; this keeps them the server's shapes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from jupyter_scripting.models import (
    delivery_model,
    execution_model,
    script_list_item,
    script_model,
    variable_model,
)
from jupyter_scripting.retries import RetrySpec
from jupyter_scripting.store.records import (
    AttemptRecord,
    DeliveryRecord,
    ExecutionRecord,
    ScheduleRecord,
    ScriptRecord,
    VariableRecord,
)
from jupyter_scripting.variables import MAX_PER_SCRIPT, MIN_SECRET_LENGTH, NAME

FIXTURES = Path(__file__).parents[1] / "labextension" / "src" / "__tests__" / "models.json"
NOW = dt.datetime(2026, 11, 29, 10, 0, 5, tzinfo=dt.UTC)
CREATED = dt.datetime(2026, 11, 29, 10, 0, tzinfo=dt.UTC)
UPDATED = dt.datetime(2026, 11, 29, 10, 5, tzinfo=dt.UTC)
API_TS = Path(__file__).parents[1] / "labextension" / "src" / "api.ts"


def fixture_of(name: str) -> Any:
    return json.loads(FIXTURES.read_text(encoding="utf-8"))[name]


def types_of(model: dict[str, Any]) -> dict[str, str]:
    return {key: type(value).__name__ for key, value in model.items()}


def test_script_shape_is_the_servers() -> None:
    fixture = json.loads(FIXTURES.read_text(encoding="utf-8"))["script"]
    record = ScriptRecord(fixture["scriptId"], "default", "hello", 2, NOW, NOW, None)
    model = script_model(record)
    assert types_of(model) == types_of(fixture)


def test_configured_script_is_the_servers() -> None:
    """A script with variables and retries, as the Scripts panel shows it."""
    fixture = fixture_of("configuredScript")
    retries = fixture["retries"]
    record = ScriptRecord(
        fixture["scriptId"],
        "default",
        fixture["name"],
        fixture["version"],
        CREATED,
        UPDATED,
        None,
        variables=tuple(fixture["variables"]),
        retries=RetrySpec(retries["max"], tuple(retries["on"]), retries["backoff"]).to_json(),
    )
    assert script_model(record) == fixture


def execution_record(fixture: dict[str, Any]) -> ExecutionRecord:
    """The record an execution of the fixture's shape comes from."""
    return ExecutionRecord(
        id=fixture["executionId"],
        script_id=fixture["scriptId"],
        version=2,
        tenant="default",
        mode=fixture["mode"],
        method="POST",
        state=fixture["state"],
        status_code=fixture["statusCode"],
        reason=None,
        created_at=NOW,
        started_at=NOW,
        finished_at=NOW,
        duration_ms=41.73,
        content_type="text/plain; charset=utf-8",
        attempt=fixture["attempt"],
        retry_of=fixture["retryOf"],
        retried_by=fixture["retriedBy"],
    )


def test_execution_shape_is_the_servers() -> None:
    fixture = json.loads(FIXTURES.read_text(encoding="utf-8"))["execution"]
    model = execution_model(execution_record(fixture))
    assert types_of(model) == types_of(fixture)
    assert model["executionDate"] == fixture["executionDate"]
    assert model["durationMs"] == fixture["durationMs"]


def test_retried_execution_is_the_servers() -> None:
    """The second attempt of a retried background run, itself retried."""
    fixture = fixture_of("retriedExecution")
    assert fixture["attempt"] == 2 and fixture["retryOf"] and fixture["retriedBy"]
    assert execution_model(execution_record(fixture)) == fixture


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
    delivered = [delivery_record(d) for d in fixture["lastDeliveries"]]
    model = script_list_item(record, execution_record(last), schedule, delivered)
    assert types_of(model) == types_of(fixture)
    assert types_of(model["lastExecution"]) == types_of(last)
    assert model["nextScheduledRun"] == planned
    assert model["lastDeliveries"] == fixture["lastDeliveries"]
    bare = script_list_item(record, None)
    assert bare["lastExecution"] is None and bare["nextScheduledRun"] is None
    assert bare["lastDeliveries"] == []


def delivery_record(fixture: dict[str, Any]) -> DeliveryRecord:
    """The record that ``delivery_model`` turns into ``fixture`` (one attempt, at NOW)."""
    [tried] = fixture["attempts"]
    return DeliveryRecord(
        id=fixture["deliveryId"],
        execution_id=fixture["executionId"],
        url=fixture["url"],
        event=fixture["event"],
        state=fixture["state"],
        attempts=(
            AttemptRecord(
                attempt=tried["attempt"],
                at=NOW,
                node=tried["node"],
                status_code=tried["statusCode"],
                error=tried["error"],
                duration_ms=tried["durationMs"],
            ),
        ),
        next_at=NOW + dt.timedelta(seconds=30),
        give_up_at=NOW + dt.timedelta(days=1),
        created_at=NOW,
    )


def test_delivery_shape_is_the_servers() -> None:
    fixture = json.loads(FIXTURES.read_text(encoding="utf-8"))["delivery"]
    model = delivery_model(delivery_record(fixture))
    assert types_of(model) == types_of(fixture)
    assert [types_of(a) for a in model["attempts"]] == [types_of(fixture["attempts"][0])]
    assert model == fixture


def variable_record(fixture: dict[str, Any]) -> VariableRecord:
    return VariableRecord(fixture["name"], fixture["secret"], CREATED, UPDATED, b"token")


def test_variable_is_the_servers() -> None:
    """A plain variable read by name: with its value."""
    fixture = fixture_of("variable")
    assert not fixture["secret"]
    assert variable_model(variable_record(fixture), fixture["value"]) == fixture
    # Listed, it has no value; a secret never has one.
    assert "value" not in variable_model(variable_record(fixture))
    secret = variable_record({**fixture, "secret": True})
    assert "value" not in variable_model(secret, "s3cr3t-value")


def test_variable_list_is_the_servers() -> None:
    """``GET /scripting/variables``, as its handler writes it: no values."""
    fixture = fixture_of("variableList")
    kinds = {v["secret"] for v in fixture["variables"]}
    assert kinds == {True, False}
    records = [variable_record(v) for v in fixture["variables"]]
    assert {"variables": [variable_model(r) for r in records]} == fixture


def test_variable_limits_are_the_servers() -> None:
    """api.ts checks names and secrets as :mod:`jupyter_scripting.variables` does."""
    source = API_TS.read_text(encoding="utf-8")
    assert f"export const VARIABLE_NAME = /^{NAME.pattern}$/;" in source
    assert f"export const MIN_SECRET_LENGTH = {MIN_SECRET_LENGTH};" in source
    assert f"export const MAX_VARIABLES_PER_SCRIPT = {MAX_PER_SCRIPT};" in source


def test_error_shape_is_the_servers() -> None:
    from jupyter_scripting.errors import ScriptNotFound

    fixture = json.loads(FIXTURES.read_text(encoding="utf-8"))["error"]
    error = ScriptNotFound("3f0c2a4e-8d1b-4c6f-9a57-0e2b7d9c1f30")
    assert (error.message, error.reason) == (fixture["message"], fixture["reason"])
    assert error.status == 404
