"""Tests of the JSON-lines wire format."""

from __future__ import annotations

import pytest

from upsight.agent.api import framing
from upsight.agent.api.errors import ApiError, BadRequest


def test_encode_is_one_compact_utf8_line() -> None:
    line = framing.request(7, "config.get", {"key": "Zürich"})
    assert line == '{"id":7,"method":"config.get","params":{"key":"Zürich"}}\n'.encode()
    assert line.count(b"\n") == 1


def test_encode_escapes_newlines_inside_strings() -> None:
    line = framing.result(1, "two\nlines")
    assert line.count(b"\n") == 1
    assert framing.decode(line[:-1]) == {"id": 1, "result": "two\nlines"}


@pytest.mark.parametrize("value", [float("nan"), float("inf"), object(), {1, 2}])
def test_encode_refuses_what_is_not_json(value: object) -> None:
    with pytest.raises(BadRequest, match="not JSON-serialisable"):
        framing.result(1, value)


def test_encode_refuses_over_long_line() -> None:
    with pytest.raises(BadRequest, match="exceeds"):
        framing.result(1, "x" * framing.MAX_LINE_BYTES)


def test_error_line_is_clipped_so_it_always_fits() -> None:
    line = framing.error(3, "failed", "y" * (2 * framing.MAX_LINE_BYTES))
    assert len(line) < 5000
    assert framing.decode(line[:-1])["error"]["code"] == "failed"


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (b"\xff\xfe\x00garbage", "UTF-8"),
        (b"{not json", "not valid JSON"),
        (b"", "not valid JSON"),
        (b'{"id": NaN}', "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'"text"', "not a JSON object"),
    ],
)
def test_decode_rejects_bad_lines(line: bytes, why: str) -> None:
    with pytest.raises(BadRequest, match=why):
        framing.decode(line)


def test_parse_request_defaults_params() -> None:
    request = framing.parse_request({"id": 4, "method": "status"})
    assert request == framing.Request(id=4, method="status", params={})


@pytest.mark.parametrize(
    ("obj", "why"),
    [
        ({"method": "status"}, '"id"'),
        ({"id": "4", "method": "status"}, '"id"'),
        ({"id": True, "method": "status"}, '"id"'),
        ({"id": 4}, '"method"'),
        ({"id": 4, "method": ""}, '"method"'),
        ({"id": 4, "method": 5}, '"method"'),
        ({"id": 4, "method": "status", "params": [1]}, '"params"'),
    ],
)
def test_parse_request_rejects_malformed(obj: dict[str, object], why: str) -> None:
    with pytest.raises(BadRequest, match=why):
        framing.parse_request(obj)


def test_request_id_only_accepts_integers() -> None:
    assert framing.request_id({"id": 9}) == 9
    assert framing.request_id({"id": True}) is None
    assert framing.request_id({"id": 1.5}) is None
    assert framing.request_id({}) is None


def test_parse_incoming_distinguishes_replies_errors_and_pushes() -> None:
    assert framing.parse_incoming({"id": 1, "result": None}) == framing.Reply(id=1, result=None)
    assert framing.parse_incoming(
        {"id": None, "error": {"code": "failed", "message": "busy"}}
    ) == framing.Reply(id=None, error=("failed", "busy"))
    assert framing.parse_incoming({"push": "event", "data": [1]}) == framing.Push("event", [1])


@pytest.mark.parametrize(
    "obj",
    [{"id": 1}, {"id": "1", "result": 2}, {"id": 1, "error": "boom"}, {"push": 3, "data": None}],
)
def test_parse_incoming_rejects_malformed(obj: dict[str, object]) -> None:
    with pytest.raises(ApiError):
        framing.parse_incoming(obj)


def test_splitter_reassembles_lines_cut_anywhere() -> None:
    stream = framing.request(1, "echo", {"text": "ünïcödé"}) + framing.request(2, "status", {})
    splitter = framing.LineSplitter()
    lines: list[bytes] = []
    # One byte at a time cuts every line, and every multi-byte character, apart.
    for i in range(len(stream)):
        lines += splitter.feed(stream[i : i + 1])
    assert [framing.decode(line)["id"] for line in lines] == [1, 2]
    assert framing.decode(lines[0])["params"] == {"text": "ünïcödé"}
    assert splitter.pending == 0


def test_splitter_keeps_a_half_line() -> None:
    splitter = framing.LineSplitter()
    assert splitter.feed(b'{"id":1}\n{"id"') == [b'{"id":1}']
    assert splitter.pending == 5
    assert splitter.feed(b":2}\n") == [b'{"id":2}']


def test_splitter_flags_an_over_long_line_without_newline() -> None:
    splitter = framing.LineSplitter(max_line_bytes=10)
    assert splitter.feed(b"0123456789") == []
    at_limit = splitter.overflowed
    assert splitter.feed(b"A") == []
    assert (at_limit, splitter.overflowed) == (False, True)
    assert splitter.feed(b'{"id":1}\n') == []  # nothing is trusted afterwards


def test_splitter_returns_lines_before_an_over_long_one() -> None:
    splitter = framing.LineSplitter(max_line_bytes=10)
    assert splitter.feed(b"short\n" + b"x" * 11 + b"\nafter\n") == [b"short"]
    assert splitter.overflowed


def test_splitter_accepts_a_line_of_exactly_the_limit() -> None:
    splitter = framing.LineSplitter(max_line_bytes=10)
    assert splitter.feed(b"x" * 10 + b"\n") == [b"x" * 10]
    assert not splitter.overflowed
