"""README, "4. Read its logs": the execution log, one execution's content, the executed notebook."""

from __future__ import annotations

import asyncio
import json
import re

from .helpers import body_json, load_notebook, notebook_of, source

DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


async def run(api, script_id: str, name: str = "John Smith"):
    return await api(
        "scripting", "script", script_id, "run", method="POST", body=json.dumps({"name": name})
    )


async def test_log_list_and_content(api, publish):
    script_id = await publish("hello")
    answer = await run(api, script_id)
    execution_id = answer.headers["X-Execution-Id"]

    listed = await api("scripting", "log", "script", script_id)
    assert listed.code == 200
    log = body_json(listed)
    assert log["moreElements"] is False
    (entry,) = log["filteredLogs"]
    assert entry["executionId"] == execution_id
    assert entry["scriptId"] == script_id
    assert entry["statusCode"] == 200
    assert entry["state"] == "finished"
    assert DATE.match(entry["executionDate"])

    content = await api("scripting", "log", "script", script_id, "execution", execution_id)
    assert content.code == 200
    assert content.body == b"Hello John Smith!"
    assert content.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert content.headers["X-Content-Type-Options"] == "nosniff"
    assert content.headers["Content-Security-Policy"] == "sandbox"


async def test_executed_notebook_has_outputs_and_no_injected_cells(api, publish):
    script_id = await publish("hello")
    execution_id = (await run(api, script_id, "Ada")).headers["X-Execution-Id"]
    answer = await api(
        "scripting", "log", "script", script_id, "execution", execution_id, "notebook"
    )
    assert answer.code == 200
    assert answer.headers["Content-Type"] == "application/x-ipynb+json"
    nb = body_json(answer)
    original = load_notebook("hello")
    assert [source(c) for c in nb["cells"]] == [source(c) for c in original["cells"]]
    code = nb["cells"][1]
    assert "".join(code["outputs"][0]["text"]) == "Hello Ada!\n"
    assert code["execution_count"] == 1
    # The hand-over held the request: it is not part of the stored notebook.
    assert "__jupyter_scripting" not in answer.body.decode()
    assert "Ada" not in json.dumps(nb["metadata"])


async def test_logs_show_the_latest_version_only_after_an_edit(api, publish):
    script_id = await publish("hello")
    old = (await run(api, script_id)).headers["X-Execution-Id"]
    await api(
        "scripting",
        "script",
        script_id,
        method="PUT",
        body=json.dumps({"notebook": load_notebook("nothing")}),
    )
    assert body_json(await api("scripting", "log", "script", script_id))["filteredLogs"] == []
    new = (await run(api, script_id)).headers["X-Execution-Id"]
    latest = body_json(await api("scripting", "log", "script", script_id))["filteredLogs"]
    assert [e["executionId"] for e in latest] == [new]
    assert latest[0]["statusCode"] == 204 and latest[0]["version"] == 2
    first = body_json(await api("scripting", "log", "script", script_id, params={"version": "1"}))
    assert [e["executionId"] for e in first["filteredLogs"]] == [old]
    every = body_json(await api("scripting", "log", "script", script_id, params={"version": "all"}))
    assert [e["executionId"] for e in every["filteredLogs"]] == [new, old]
    # The old run's content is still there.
    content = await api("scripting", "log", "script", script_id, "execution", old)
    assert content.body == b"Hello John Smith!"


async def test_content_of_a_run_that_answered_nothing_is_204(api, publish):
    script_id = await publish("nothing")
    run = await api("scripting", "script", script_id, "run")
    assert run.code == 204
    execution = run.headers["X-Execution-Id"]
    content = await api("scripting", "log", "script", script_id, "execution", execution)
    assert content.code == 204
    assert content.body == b""
    assert content.headers["X-Execution-Status"] == "204"


async def test_paging_newest_first(api, publish):
    script_id = await publish("nothing")
    ids = [
        (await api("scripting", "script", script_id, "run")).headers["X-Execution-Id"]
        for _ in range(3)
    ]
    page = body_json(await api("scripting", "log", "script", script_id, params={"limit": "2"}))
    assert [e["executionId"] for e in page["filteredLogs"]] == ids[::-1][:2]
    assert page["moreElements"] is True
    rest = body_json(
        await api("scripting", "log", "script", script_id, params={"limit": "2", "offset": "2"})
    )
    assert [e["executionId"] for e in rest["filteredLogs"]] == [ids[0]]
    assert rest["moreElements"] is False
    for bad in ({"limit": "1001"}, {"limit": "x"}, {"offset": "-1"}, {"version": "zero"}):
        answer = await api("scripting", "log", "script", script_id, params=bad)
        assert answer.code == 400, bad
        assert body_json(answer)["message"]


async def test_failed_run_log_has_error_document(api, publish):
    script_id = await publish("raises")
    execution_id = (await api("scripting", "script", script_id, "run")).headers["X-Execution-Id"]
    (entry,) = body_json(await api("scripting", "log", "script", script_id))["filteredLogs"]
    assert entry["statusCode"] == 502 and entry["state"] == "failed"
    content = await api("scripting", "log", "script", script_id, "execution", execution_id)
    assert content.code == 200
    document = body_json(content)
    assert document["reason"] == "script-error" and document["executionId"] == execution_id
    notebook = body_json(
        await api("scripting", "log", "script", script_id, "execution", execution_id, "notebook")
    )
    assert "".join(notebook["cells"][0]["outputs"][0]["text"]) == "before\n"
    assert notebook["cells"][1]["outputs"][0]["ename"] == "ValueError"


async def test_unknown_execution_is_404(api, publish):
    script_id = await publish("nothing")
    other_script = await publish("nothing")
    execution_id = (await api("scripting", "script", script_id, "run")).headers["X-Execution-Id"]
    # An execution of another script is not found through this one.
    answer = await api("scripting", "log", "script", other_script, "execution", execution_id)
    assert answer.code == 404
    for unknown in ("00000000-0000-4000-8000-000000000000", "nope"):
        answer = await api("scripting", "log", "script", script_id, "execution", unknown)
        assert answer.code == 404
        assert set(body_json(answer)) == {"message", "reason", "executionId"}


async def test_running_execution_is_listed_without_status_and_answers_202(api, publish):
    script_id = await publish(notebook_of("import time; time.sleep(3)"))
    run_task = asyncio.ensure_future(api("scripting", "script", script_id, "run"))
    entries: list = []
    for _ in range(100):
        entries = body_json(await api("scripting", "log", "script", script_id))["filteredLogs"]
        if entries:
            break
        await asyncio.sleep(0.05)
    (entry,) = entries
    assert entry["statusCode"] is None
    assert entry["state"] == "running"
    content = await api("scripting", "log", "script", script_id, "execution", entry["executionId"])
    assert content.code == 202
    assert body_json(content) == {"executionId": entry["executionId"], "state": "running"}
    assert (await run_task).code == 204
    done = await api("scripting", "log", "script", script_id, "execution", entry["executionId"])
    assert done.code == 204  # it answered nothing
