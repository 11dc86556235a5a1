"""jupyter_server still defaults to allow_unauthenticated_access=True: our routes must
check identity themselves, so strangers get 401 under the default too."""

from __future__ import annotations

import pytest
from traitlets.config import Config

from .helpers import body_json, server_config

ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def jp_server_config() -> Config:
    return server_config(authenticated_only=False)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "scripting/script"),
        ("POST", "scripting/script"),
        ("POST", f"scripting/script/{ID}/run"),
        ("GET", f"scripting/script/{ID}/run"),
        ("GET", f"scripting/log/script/{ID}"),
    ],
)
async def test_401_with_default_server_settings(raw_api, jp_serverapp, method, path):
    assert jp_serverapp.web_app.settings.get("allow_unauthenticated_access", True)
    answer = await raw_api(
        path,
        method=method,
        headers={"Authorization": ""},
        body=b"{}" if method == "POST" else None,
        follow_redirects=False,
    )
    assert answer.code == 401
    assert body_json(answer)["reason"] == "not-authenticated"
