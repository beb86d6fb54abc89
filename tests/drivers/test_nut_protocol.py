"""Pure NUT protocol pieces: quoting, word splitting, ERR mapping."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from upsight.drivers.errors import (
    DataStale,
    Disconnected,
    NotFound,
    PermissionDenied,
    ProtocolError,
    UnsupportedCommand,
)
from upsight.drivers.nut.protocol import error_for, quote, split_words


def test_split_reply_with_quoted_value() -> None:
    assert split_words('VAR myups ups.status "OB DISCHRG LB"') == [
        "VAR",
        "myups",
        "ups.status",
        "OB DISCHRG LB",
    ]


def test_split_honours_escapes_and_empty_values() -> None:
    assert split_words(r'VAR u ups.model "Say \"hi\" \\ bye"') == [
        "VAR",
        "u",
        "ups.model",
        'Say "hi" \\ bye',
    ]
    assert split_words('VAR u ups.alarm ""') == ["VAR", "u", "ups.alarm", ""]


def test_unterminated_quote_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="unterminated quote"):
        split_words('VAR u x "open')


@given(st.text(max_size=40))
def test_quote_round_trips(value: str) -> None:
    assert split_words(f"VAR u x {quote(value)}")[3] == value


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("ERR DATA-STALE", DataStale),
        ("ERR DRIVER-NOT-CONNECTED", Disconnected),
        ("ERR UNKNOWN-UPS", NotFound),
        ("ERR ACCESS-DENIED", PermissionDenied),
        ("ERR INVALID-PASSWORD", PermissionDenied),
        ("ERR CMD-NOT-SUPPORTED", UnsupportedCommand),
        ("ERR SOMETHING-NEW extra words", ProtocolError),
    ],
)
def test_err_codes_map_onto_the_error_tree(line: str, kind: type[Exception]) -> None:
    error = error_for(line, "127.0.0.1:3493 LIST VAR ups")
    assert type(error) is kind
    assert str(error).startswith("127.0.0.1:3493 LIST VAR ups: ")
