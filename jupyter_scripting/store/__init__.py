"""The script store: scripts, their versions and their executions in SQL.

``Store`` (and ``UNSET``) are imported lazily so that importing the records stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .records import ExecutionRecord, ExecutionResult, Mode, ScriptRecord, State

if TYPE_CHECKING:
    from .service import UNSET, Store

__all__ = [
    "UNSET",
    "ExecutionRecord",
    "ExecutionResult",
    "Mode",
    "ScriptRecord",
    "State",
    "Store",
]


def __getattr__(name: str) -> Any:
    if name in ("Store", "UNSET"):
        from . import service

        return getattr(service, name)
    raise AttributeError(name)
