"""Tests of parsing NUT request lines into typed requests."""

from __future__ import annotations

import pytest

from upsight.agent.nut_server import commands as c
from upsight.agent.nut_server.backend import NutError, NutServerError


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        ("VER", c.Version()),
        ("NETVER", c.NetVersion()),
        ("protver", c.NetVersion()),
        ("HELP", c.Help()),
        ("STARTTLS", c.StartTls()),
        ("LOGOUT", c.Logout()),
        ("USERNAME monitor", c.Username("monitor")),
        ('PASSWORD "two words"', c.Password("two words")),
        ("LOGIN ups", c.Login("ups")),
        ("PRIMARY ups", c.Primary("ups")),
        ("master ups", c.Primary("ups", legacy=True)),
        ("FSD ups", c.Fsd("ups")),
        ("INSTCMD ups load.off", c.InstCmd("ups", "load.off")),
        ("INSTCMD ups load.off.delay 30", c.InstCmd("ups", "load.off.delay", "30")),
        ('SET VAR ups ups.id "Rack A"', c.SetVar("ups", "ups.id", "Rack A")),
        ("SET VAR ups ups.id ''", c.SetVar("ups", "ups.id", "''")),
        ("set tracking on", c.SetTracking(on=True)),
        ("SET TRACKING OFF", c.SetTracking(on=False)),
        ("GET TRACKING", c.GetTracking()),
        ("GET TRACKING 1a2b", c.GetTracking("1a2b")),
        ("GET VAR ups ups.status", c.GetVar("ups", "ups.status")),
        ("Get Type ups ups.id", c.GetType("ups", "ups.id")),
        ("GET DESC ups ups.load", c.GetDesc("ups", "ups.load")),
        ("GET CMDDESC ups load.on", c.GetCmdDesc("ups", "load.on")),
        ("GET UPSDESC ups", c.GetUpsDesc("ups")),
        ("GET NUMLOGINS ups", c.GetNumLogins("ups")),
        ("LIST UPS", c.ListUps()),
        ("LIST VAR ups", c.ListVar("ups")),
        ("LIST RW ups", c.ListRw("ups")),
        ("LIST CMD ups", c.ListCmd("ups")),
        ("LIST CLIENT ups", c.ListClient("ups")),
        ("LIST ENUM ups input.sensitivity", c.ListEnum("ups", "input.sensitivity")),
        ("LIST RANGE ups ups.delay.start", c.ListRange("ups", "ups.delay.start")),
    ],
)
def test_parse(line: str, parsed: c.Request) -> None:
    assert c.parse(line) == parsed


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("", NutError.UNKNOWN_COMMAND),
        ("FETCH ups", NutError.UNKNOWN_COMMAND),
        ('"" VER', NutError.UNKNOWN_COMMAND),
        ("VER 2", NutError.INVALID_ARGUMENT),
        ("USERNAME", NutError.INVALID_ARGUMENT),
        ("LOGIN", NutError.INVALID_ARGUMENT),
        ("LOGIN a b", NutError.INVALID_ARGUMENT),
        ("INSTCMD ups", NutError.INVALID_ARGUMENT),
        ("INSTCMD ups load.off 1 2", NutError.INVALID_ARGUMENT),
        ("SET", NutError.INVALID_ARGUMENT),
        ("SET VAR ups ups.id", NutError.INVALID_ARGUMENT),
        ("SET TRACKING", NutError.INVALID_ARGUMENT),
        ("SET TRACKING YES", NutError.INVALID_ARGUMENT),
        ("SET COLOUR ups red", NutError.INVALID_ARGUMENT),
        ("GET", NutError.INVALID_ARGUMENT),
        ("GET TRACKING a b", NutError.INVALID_ARGUMENT),
        ("GET VAR ups", NutError.INVALID_ARGUMENT),
        ("GET UPSDESC", NutError.INVALID_ARGUMENT),
        ("LIST UPS ups", NutError.INVALID_ARGUMENT),
        ("LIST ENUM ups", NutError.INVALID_ARGUMENT),
        # Names are echoed bare in replies, so they must be bare words.
        ('GET VAR "my ups" ups.status', NutError.INVALID_ARGUMENT),
        ('GET VAR ups ""', NutError.INVALID_ARGUMENT),
        ('INSTCMD ups "load\\"off"', NutError.INVALID_ARGUMENT),
        ("GET TRACKING #1", NutError.INVALID_ARGUMENT),
        ("GET VAR ups\x01 x", NutError.INVALID_ARGUMENT),
    ],
)
def test_parse_errors(line: str, error: NutError) -> None:
    with pytest.raises(NutServerError) as caught:
        c.parse(line)
    assert caught.value.code is error


def test_values_may_hold_anything_printable() -> None:
    request = c.parse('SET VAR ups ups.id "a \\"b\\" #c \\\\ d"')
    assert request == c.SetVar("ups", "ups.id", 'a "b" #c \\ d')


def test_split_request_gives_the_verb_before_the_arguments_are_checked() -> None:
    assert c.split_request("login") == ("LOGIN", [])
    assert "LOGIN" in c.CREDENTIAL_VERBS
    assert "GET" in c.READ_VERBS


def test_password_stays_out_of_reprs() -> None:
    assert "hunter2" not in repr(c.parse("PASSWORD hunter2"))
