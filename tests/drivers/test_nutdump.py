"""Tests of the .dev / .seq parser."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from upsight.drivers.nutdump import Assignment, Dump, Step, apply_step, parse_dump

DDL = Path(__file__).parent.parent / "fixtures" / "ddl"


def values(text: str) -> dict[str, str]:
    """The variables a text leaves after all its steps."""
    return parse_dump(text).final_state()


def problem_lines(dump: Dump) -> list[int]:
    return [problem.line for problem in dump.problems]


# --- values ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("device.serial: Gxxxxxxxx\t#COMMENT: Masked by the user.", "Gxxxxxxxx"),
        ("driver.parameter.port: /dev/usb/hiddev0\t#COMMENT: not needed", "/dev/usb/hiddev0"),
        ("ups.test.result: No test initiated   # after spaces", "No test initiated"),
        ("ups.id: rack#3", "rack#3"),
        ("ups.model: Ellipse PRO 650 ", "Ellipse PRO 650"),
        ("ups.model:\tEllipse PRO 650\t", "Ellipse PRO 650"),
        ("   battery.charge: 100", "100"),
        ("ups.mfr: A: B", "A: B"),
    ],
)
def test_unquoted_values_lose_inline_comments_and_outer_spaces(line: str, expected: str) -> None:
    assert values(line) == {line.strip().split(":")[0]: expected}


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('ups.alarm: "a # kept"', "a # kept"),
        ('ups.alarm: "  padded  "', "  padded  "),
        (r'ups.alarm: "say \"hi\""', 'say "hi"'),
        (r'ups.alarm: "back\\slash"', "back\\slash"),
        (r'ups.alarm: "other \n escapes"', r"other \n escapes"),
        ('ups.alarm: "quoted"\t#COMMENT: after the quote', "quoted"),
        ('ups.alarm: "quoted"#COMMENT', "quoted"),
    ],
)
def test_quoted_values(line: str, expected: str) -> None:
    assert values(line) == {"ups.alarm": expected}


@pytest.mark.parametrize(
    "line",
    ['ups.alarm: "never closed', 'ups.alarm: "closed" but more', r'ups.alarm: "escaped end\"'],
)
def test_bad_quotes_are_problems(line: str) -> None:
    dump = parse_dump(f"battery.charge: 50\n{line}\n")
    assert problem_lines(dump) == [2]
    assert dump.problems[0].text == line
    assert dump.final_state() == {"battery.charge": "50"}


@pytest.mark.parametrize(
    "line", ["ups.alarm:", "ups.alarm: ", 'ups.alarm: ""', "ups.alarm:\t#COMMENT: cleared"]
)
def test_empty_value_removes_the_variable(line: str) -> None:
    dump = parse_dump(f"ups.alarm: Overheat\nbattery.charge: 50\nTIMER 5\n{line}\n")
    assert dump.steps[1].assignments == (Assignment("ups.alarm", None),)
    assert dump.final_state() == {"battery.charge": "50"}


def test_apply_step_sets_removes_and_keeps_the_input() -> None:
    state = {"a": "1", "b": "2"}
    step = Step((Assignment("a", None), Assignment("c", "3"), Assignment("c", "4")))
    assert apply_step(state, step) == {"b": "2", "c": "4"}
    assert state == {"a": "1", "b": "2"}


def test_crlf_line_endings_and_bom() -> None:
    dump = parse_dump(
        "\ufeffups.status: OL\r\nups.model: X 1 \r\n\r\nnonsense\r\n#CMD:load.off\r\n"
    )
    assert dump.final_state() == {"ups.status": "OL", "ups.model": "X 1"}
    assert dump.commands == ("load.off",)
    assert problem_lines(dump) == [4]
    assert dump.problems[0].text == "nonsense"


# --- special comments -----------------------------------------------------


def test_cmd_and_rw_comments_are_collected_once_in_order() -> None:
    text = "\n".join(
        [
            "# DEVICE:URL: https://example.invalid/1",
            "#CMD:beeper.disable",
            "#CMD:load.off #COMMENT: needs a delay",
            "#CMD:beeper.disable",
            "#RW:battery.charge.low:STRING:10\t#COMMENT: percent",
            '#RW:input.sensitivity:ENUM:"low"',
            '#RW:input.sensitivity:ENUM:"high"#COMMENT: two values',
            '#RW:ups.delay.shutdown:RANGE:"0" "600"',
            "# CMD:not.special",
            "  #CMD:indented.too",
        ]
    )
    dump = parse_dump(text)
    assert dump.commands == ("beeper.disable", "load.off", "indented.too")
    assert dump.writable == ("battery.charge.low", "input.sensitivity", "ups.delay.shutdown")
    assert dump.steps == ()
    assert dump.problems == ()


@pytest.mark.parametrize("line", ["#CMD:", "#CMD: #COMMENT only", "#RW::STRING", "#CMD:bad!name"])
def test_malformed_special_comments_are_problems(line: str) -> None:
    dump = parse_dump(f"# header\n{line}\n")
    assert problem_lines(dump) == [2]
    assert dump.commands == ()
    assert dump.writable == ()


# --- TIMER ----------------------------------------------------------------


def test_timer_lines_split_the_file_into_steps() -> None:
    dump = parse_dump(
        "ups.status: OL\nbattery.charge: 100\nTIMER 60\n"
        "ups.status: OB DISCHRG\nTIMER 2.5 # seconds\n"
        "ups.status: OB DISCHRG LB\n"
    )
    assert [step.timer_s for step in dump.steps] == [60.0, 2.5, 0.0]
    assert dump.steps[0].assignments == (
        Assignment("ups.status", "OL"),
        Assignment("battery.charge", "100"),
    )
    assert dump.steps[1].assignments == (Assignment("ups.status", "OB DISCHRG"),)
    assert dump.steps[2].assignments == (Assignment("ups.status", "OB DISCHRG LB"),)
    assert dump.final_state() == {"ups.status": "OB DISCHRG LB", "battery.charge": "100"}


def test_trailing_timer_leaves_no_empty_step_and_leading_timer_waits_first() -> None:
    dump = parse_dump("TIMER 5\nups.status: OL\ntimer\t10\n")
    assert dump.steps == (Step((), 5.0), Step((Assignment("ups.status", "OL"),), 10.0))


@pytest.mark.parametrize("line", ["TIMER", "TIMER soon", "TIMER -1", "TIMER nan", "TIMER inf"])
def test_bad_timers_are_problems_and_do_not_split(line: str) -> None:
    dump = parse_dump(f"ups.status: OL\n{line}\nbattery.charge: 5\n")
    assert problem_lines(dump) == [2]
    assert len(dump.steps) == 1
    assert dump.final_state() == {"ups.status": "OL", "battery.charge": "5"}


# --- problems -------------------------------------------------------------


def test_garbage_lines_are_reported_with_their_numbers_and_text() -> None:
    text = "\n".join(
        [
            "ups.status: OL",
            "Init SSL without certificate database",
            "",
            "battery.charge:100",
            "ups load: 12",
            ": orphan value",
            "input.voltage: 230.0",
        ]
    )
    dump = parse_dump(text)
    assert problem_lines(dump) == [2, 4, 5, 6]
    assert [p.text for p in dump.problems] == [
        "Init SSL without certificate database",
        "battery.charge:100",
        "ups load: 12",
        ": orphan value",
    ]
    assert all(p.reason for p in dump.problems)
    assert dump.final_state() == {"ups.status": "OL", "input.voltage": "230.0"}


def test_empty_text_gives_an_empty_dump() -> None:
    assert parse_dump("") == Dump()
    assert parse_dump("\n# only a comment\n\n") == Dump()


@pytest.mark.parametrize("path", sorted(DDL.glob("*.dev")), ids=lambda p: p.name)
def test_real_dumps_parse_without_problems(path: Path) -> None:
    dump = parse_dump(path.read_text(encoding="ascii"))
    assert dump.problems == ()
    assert len(dump.steps) == 1
    assert dump.steps[0].timer_s == 0.0
    assert "ups.status" in dump.final_state()


def test_eaton_dump_declares_its_commands() -> None:
    dump = parse_dump((DDL / "Eaton__Ellipse_PRO_650__usbhid-ups__2.7.2__01.dev").read_text())
    assert len(dump.commands) == 12
    assert dump.commands[0] == "beeper.disable"
    assert "shutdown.stayoff" in dump.commands
    assert dump.final_state()["device.serial"] == "Gxxxxxxxx"


# --- properties -----------------------------------------------------------


@given(st.text())
def test_parser_never_raises_and_numbers_problems_within_the_text(text: str) -> None:
    dump = parse_dump(text)
    line_count = text.count("\n") + 1
    assert all(1 <= problem.line <= line_count for problem in dump.problems)
    assert all(step.timer_s >= 0 for step in dump.steps)


_VAR = st.from_regex(r"[a-z][a-z0-9_]{0,8}(\.[a-z0-9_]{1,8}){0,3}", fullmatch=True)
# Any single-line text; quoting must carry it through unchanged.
_LINE_TEXT = st.text(st.characters(blacklist_characters="\n"), min_size=1)


@given(_VAR, _LINE_TEXT)
def test_quoted_values_round_trip(var: str, value: str) -> None:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    dump = parse_dump(f'{var}: "{escaped}"\n')
    assert dump.problems == ()
    assert dump.final_state() == {var: value}
