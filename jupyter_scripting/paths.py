"""Where the embedded store lives (shared by the server and the command line, which must
not import jupyter_server just to find it)."""

from __future__ import annotations

import os

from jupyter_core.paths import jupyter_data_dir


def default_database_url() -> str:
    """The embedded default store: an SQLite file in the Jupyter data directory."""
    path = os.path.join(jupyter_data_dir(), "scripting", "jupyter_scripting.sqlite")
    return f"sqlite:///{path}"


def default_secret_key_file() -> str:
    """The embedded default key file (``ScriptingApp.secret_key_file``), beside the store."""
    return os.path.join(jupyter_data_dir(), "scripting", "secret.key")
