"""The answer rules on their own: Accept negotiation and the header allow-list."""

from __future__ import annotations

import pytest

from jupyter_scripting.errors import BadScriptAnswer
from jupyter_scripting.execution.answer import build_answer, choose_mime, filter_headers

RICH = ["text/plain", "text/html", "image/png", "application/json"]


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, "application/json"),
        ("", "application/json"),
        ("*/*", "application/json"),
        ("text/html", "text/html"),
        ("image/*", "image/png"),
        ("text/*", "text/html"),
        ("text/plain, text/html;q=0.9", "text/plain"),
        ("text/html;q=0.1, image/png;q=0.9", "image/png"),
        ("application/json;q=0, */*;q=0.5", "text/html"),
        ("video/mp4", "application/json"),
        ("text/html;q=bogus, text/plain", "text/plain"),
    ],
)
def test_choose_mime(accept, chosen):
    assert choose_mime(RICH, accept) == chosen


def test_filter_headers_allow_list():
    kept, dropped = filter_headers(
        [
            ("X-Anything", "1"),
            ("Cache-Control", "no-store"),
            ("Set-Cookie", "a=b"),
            ("Content-Length", "5"),
            ("Transfer-Encoding", "chunked"),
            ("X-Execution-Id", "forged"),
            ("Content-Security-Policy", "default-src *"),
            ("X-Bad Name", "1"),
            ("X-Split", "a\r\nSet-Cookie: b=c"),
            ("X-Nul", "a\x00b"),
        ]
    )
    assert kept == [("X-Anything", "1"), ("Cache-Control", "no-store")]
    assert len(dropped) == 8


def dump(**kwargs):
    return {
        "status": 200,
        "headers": [],
        "content_type": None,
        "written": False,
        "body": "",
    } | kwargs


def test_status_kept_when_nothing_is_answered():
    assert build_answer(dump(), [], None).status == 204
    assert build_answer(dump(status=404), [], None).status == 404


@pytest.mark.parametrize("status", [100, 199, 600, -1, True, "200", None])
def test_invalid_status_is_refused(status):
    with pytest.raises(BadScriptAnswer):
        build_answer(dump(status=status), [], None)


def test_204_and_304_carry_no_body():
    answer = build_answer(dump(status=304, written=True, body="aGk="), [], None)
    assert answer.status == 304 and answer.body == b"" and answer.content_type is None


def test_content_type_header_becomes_the_content_type():
    answer = build_answer(
        dump(written=True, body="aGk=", headers=[["content-type", "text/csv"]]), [], None
    )
    assert answer.content_type == "text/csv" and answer.headers == []
