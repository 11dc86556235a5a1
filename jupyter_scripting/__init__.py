"""jupyter_scripting: notebooks published as HTTP scripts, each run in a fresh kernel."""

from __future__ import annotations

from typing import Any

from ._version import __version__

__all__ = ["ScriptingApp", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy, so that importing the package (e.g. for its version) stays cheap.
    if name == "ScriptingApp":
        from .app import ScriptingApp

        return ScriptingApp
    raise AttributeError(name)


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import ScriptingApp

    return [{"module": "jupyter_scripting", "app": ScriptingApp}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    # The prebuilt JupyterLab extension (built from labextension/ into the package).
    return [{"src": "labextension", "dest": "jupyter-scripting"}]
