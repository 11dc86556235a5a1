"""The store service: scripts, versions and executions in SQL (SQLite or PostgreSQL).

INTERFACE CONTRACT (the handlers and the runner are written against exactly this):

- ``Store(url)`` builds the SQLAlchemy 2 engine; ``await store.start()`` runs the Alembic
  migrations to head (in a thread) and ``await store.close()`` disposes the engine and
  the store's thread pool.
- Every public method is ``async`` and runs its blocking SQLAlchemy work in the store's
  own ``ThreadPoolExecutor`` (never on the event loop).
- Every lookup is scoped by ``tenant``: another tenant's script or execution raises
  ``ScriptNotFound`` / ``ExecutionNotFound`` exactly as a missing one would.
- Ids are UUID strings (already validated by the caller, but never trusted: a value
  that is not a canonical UUID raises the matching NotFound without a query).
- Database failures raise ``jupyter_scripting.errors.StoreError`` with a message
  (the original exception chained, logged with its traceback).
"""

from __future__ import annotations

from .database import MIGRATIONS_PATH, UNSET, Database
from .deliveries import DeliveryStore
from .executions import ExecutionLog
from .keys import KeyStore
from .nodes import NodeRegistry
from .queue import BackgroundQueue
from .schedules import ScheduleStore
from .scripts import ScriptStore
from .variables import VariableStore

__all__ = ["MIGRATIONS_PATH", "UNSET", "Database", "Store"]


class Store(
    ScriptStore,
    ScheduleStore,
    DeliveryStore,
    VariableStore,
    ExecutionLog,
    BackgroundQueue,
    NodeRegistry,
    KeyStore,
):
    """Scripts, their immutable versions, the executions of each version, the background
    queue, the nodes sharing the store, the API keys, the schedules, the webhook
    deliveries and the tenants' variables: one façade over the store's parts (one module each)."""
