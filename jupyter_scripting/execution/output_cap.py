"""The output cap of a run (``ScriptingApp.max_output_size``).

A script that prints or displays without end must not take the server's memory with
it. :class:`CappedNotebookClient` counts the bytes of every output message as it
arrives; the message that would cross the cap is not kept (but for the part of a
stream that fits), a note says why the outputs stop, the cell's wait is cancelled so
the run ends at once (the runner then kills the kernel before answering) and nothing
that still arrives is kept. The caller gets :class:`~jupyter_scripting.errors.OutputTooLarge`
(502; the mapping of nbclient's errors to that one is in ``outcome.py``, with every
other). The kernel side helps (see ``runtime/kernel_side.py``): ``response.write()``
refuses to grow the body past the cap, and stdout/stderr stop passing text on just past
it, so the kernel never ships the server one huge stream message.
"""

from __future__ import annotations

import json
from typing import Any

from nbclient import NotebookClient
from nbformat import NotebookNode
from nbformat.v4 import new_output
from traitlets import Integer

from ..errors import OutputTooLarge
from ..protocols import EventSink
from ..variables import Masker

#: IOPub messages that carry output (an update replaces a display, but is output sent).
OUTPUT_MESSAGES = frozenset(
    {"stream", "display_data", "execute_result", "update_display_data", "error"}
)
#: The exception ``response.write()`` raises in the kernel past the cap (kernel_side.py).
RESPONSE_TOO_LARGE = "ResponseTooLarge"


def _utf8_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def output_size(content: dict[str, Any]) -> int:
    """Bytes of output in an IOPub message's content (text as UTF-8, JSON as dumped)."""
    if "text" in content:  # stream
        return _utf8_size(str(content["text"]))
    if "traceback" in content:  # error
        return sum(_utf8_size(str(line)) for line in content["traceback"])
    size = 0
    for value in (content.get("data") or {}).values():
        size += _utf8_size(value) if isinstance(value, str) else len(json.dumps(value))
    return size


def output_cap_message(limit: int, *, response: bool = False) -> str:
    """The caller's message: what happened, the limit, and how to change it."""
    what = (
        f"tried to write more than {limit} bytes through response.write()"
        if response
        else f"printed or displayed more than {limit} bytes"
    )
    return (
        f"The script {what}, the most a run may produce; the run was stopped and its "
        "kernel killed. The server's ScriptingApp.max_output_size sets the limit."
    )


class CappedNotebookClient(NotebookClient):
    """A ``NotebookClient`` that stops the run once its outputs exceed ``max_output_size``."""

    max_output_size = Integer(
        None,
        allow_none=True,
        help="Bytes of output (streams and rich outputs together) a run may produce.",
    )

    def __init__(self, nb: NotebookNode, **kwargs: Any) -> None:
        super().__init__(nb, **kwargs)
        #: Bytes of output received so far (up to the cap).
        self.output_bytes = 0
        #: Set once the cap was crossed: the run is over, and this is its error.
        self.overflow: OutputTooLarge | None = None
        #: Where each output is also reported as it arrives (the run's live events).
        self.events: EventSink | None = None
        #: Masks the run's secrets in each output as it arrives (before it is kept or
        #: reported); None: the run has none.
        self.masker: Masker | None = None

    def process_message(
        self, msg: dict[str, Any], cell: NotebookNode, cell_index: int
    ) -> NotebookNode | None:
        if self.overflow is not None:
            return None  # the run is being stopped: nothing more is kept
        if self.masker is not None and msg["msg_type"] in OUTPUT_MESSAGES:
            self.masker.tree(msg["content"])
        limit = self.max_output_size
        if limit is not None and msg["msg_type"] in OUTPUT_MESSAGES:
            size = output_size(msg["content"])
            if self.output_bytes + size > limit:
                self._stop(msg, cell, limit)
                return None
            self.output_bytes += size
        if self.events is not None and msg["msg_type"] in OUTPUT_MESSAGES:
            live_event(self.events, msg["msg_type"], msg["content"])
        return super().process_message(msg, cell, cell_index)

    def _stop(self, msg: dict[str, Any], cell: NotebookNode, limit: int) -> None:
        """Keep what fits, say why the outputs end, and end the cell's wait now."""
        content = msg["content"]
        room = limit - self.output_bytes
        if msg["msg_type"] == "stream" and room > 0:
            head = str(content["text"]).encode("utf-8", "surrogatepass")[:room]
            text = head.decode("utf-8", "ignore")
            cell.outputs.append(new_output("stream", name=content.get("name"), text=text))
        cell.outputs.append(
            new_output(
                "stream",
                name="stderr",
                text=f"\n[jupyter_scripting] Output stopped here: the run produced more than "
                f"{limit} bytes (ScriptingApp.max_output_size); its kernel was killed.\n",
            )
        )
        self.overflow = OutputTooLarge(output_cap_message(limit))
        # nbclient waits for the execute reply before it looks at the output task: cancel
        # that wait (nbclient then reports a dead kernel; ``overflow`` tells why) rather
        # than let the script run on until the deadline.
        if self.task_poll_for_reply is not None:
            self.task_poll_for_reply.cancel()


def live_event(events: EventSink, msg_type: str, content: dict[str, Any]) -> None:
    """Report one output message as a live event (README, "Live output")."""
    if msg_type == "stream":
        events.emit("stream", {"name": content.get("name"), "text": str(content.get("text", ""))})
    elif msg_type == "error":
        events.emit(
            "cell-error",
            {
                "ename": content.get("ename"),
                "evalue": content.get("evalue"),
                "traceback": content.get("traceback", []),
            },
        )
    else:
        events.emit(
            "display",
            {
                "output_type": msg_type,
                "data": content.get("data", {}),
                "metadata": content.get("metadata", {}),
            },
        )


def check_response_dump(dump: dict[str, Any] | None, limit: int | None) -> None:
    """``OutputTooLarge`` if the script went past the cap in ``response.write()`` (and
    caught the kernel's exception: the body was refused all the same)."""
    if dump is not None and limit is not None and dump.get("too_large"):
        raise OutputTooLarge(output_cap_message(limit, response=True))
