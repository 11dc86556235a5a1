"""SPEC §1, §2, §4: a store that fails answers 500 with a JSON message, never a traceback."""

from __future__ import annotations

import pytest
from traitlets.config import Config

from .helpers import body_json, server_config

ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def jp_server_config(tmp_path) -> Config:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the store's directory should be")
    return server_config(database_url=f"sqlite:///{blocker}/store.sqlite")


@pytest.mark.parametrize(
    "parts",
    [
        ("scripting", "script"),
        ("scripting", "script", ID),
        ("scripting", "script", ID, "run"),
        ("scripting", "log", "script", ID),
        ("scripting", "log", "script", ID, "execution", ID),
    ],
)
async def test_store_failure_is_500_json(api, parts):
    answer = await api(*parts)
    assert answer.code == 500
    error = body_json(answer)
    assert set(error) == {"message", "reason", "executionId"}
    assert error["reason"] == "store-error"
    assert error["message"].startswith("The script store")
    assert "Traceback" not in answer.body.decode()
