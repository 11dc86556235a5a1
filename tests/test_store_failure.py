"""A store that fails answers 500 with a JSON message, never a traceback."""

from __future__ import annotations

import re

import pytest
from traitlets.config import Config

from jupyter_scripting.errors import StoreMisconfigured
from jupyter_scripting.store import Store

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


def test_a_bare_postgresql_url_means_psycopg() -> None:
    # SQLAlchemy's default PostgreSQL driver is psycopg2; the extra installs psycopg (3).
    store = Store("postgresql://postgres@127.0.0.1:5432/test")
    assert store._engine.dialect.driver == "psycopg"


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("not a url", "is not a database URL"),
        ("mysql://root@127.0.0.1/test", "the store runs on SQLite or PostgreSQL"),
        ("postgresql+nosuchdriver://u@h/d", "names a driver SQLAlchemy does not know"),
        ("postgresql+pg8000://u@h/d", "Install it with: pip install pg8000"),
    ],
)
def test_an_unusable_url_is_refused_saying_why(url: str, said: str) -> None:
    with pytest.raises(StoreMisconfigured, match=re.escape(said)):
        Store(url)
