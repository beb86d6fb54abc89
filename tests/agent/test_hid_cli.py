"""``upsight hid decode`` on real captures: text and JSON output, and its error paths."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.drivers.hid.captures import Capture, by_name
from upsight.agent.cli import main
from upsight.drivers.hid.descriptor import ReportDescriptor
from upsight.drivers.hid.mapping import map_reports
from upsight.drivers.hid.vendors import vendor_for
from upsight.drivers.model import format_value

UPSIGHT = Path(sys.executable).with_name("upsight")


def descriptor_file(tmp_path: Path, capture: Capture) -> Path:
    path = tmp_path / f"{capture.name}.hex"
    # Line breaks as in a pasted dump: any whitespace separates the bytes.
    text = capture.descriptor.hex(" ")
    path.write_text("\n".join(text[i : i + 48] for i in range(0, len(text), 48)) + "\n")
    return path


def report_args(capture: Capture) -> list[str]:
    return ["--report", *(data.hex(" ") for data in capture.reports.values())]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["hid", "decode", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_text_output_lists_fields_and_variables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = by_name("cyberpower-cp1500pfclcd")
    code, out, err = run(
        capsys,
        "--descriptor",
        str(descriptor_file(tmp_path, capture)),
        *report_args(capture),
        "--vid",
        "0x0764",
        "--pid",
        "0x0501",
    )
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("# 439 descriptor bytes, 53 fields")
    assert "CyberPower (0764:0501)" in lines[0]
    row = next(line for line in lines if line.startswith("UPS.Output.Voltage "))
    assert row.split() == [
        "UPS.Output.Voltage",
        "Feature",
        "0x12",
        "0",
        "16",
        "121",
        "output.voltage",
    ]
    serial = next(line for line in lines if line.startswith("UPS.PowerSummary.iSerialNumber"))
    assert serial.split()[5] == "-"  # no report 0x02 given
    variables = lines[lines.index("# variables") + 1 :]
    assert "ups.status: OL" in variables
    assert "output.voltage: 121" in variables
    assert "input.sensitivity: normal" in variables
    assert "unmapped.ups.powersummary.capacitymode: 2" in lines


def test_text_output_marks_values_outside_the_logical_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Without the vendor, CyberPower's output voltage range is not repaired.
    capture = by_name("cyberpower-cp1500pfclcd")
    code, out, _ = run(
        capsys, "--descriptor", str(descriptor_file(tmp_path, capture)), *report_args(capture)
    )
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith("UPS.Output.Voltage "))
    assert "121 (outside logical range)" in row
    assert "output.voltage:" not in out
    assert "generic (0000:0000)" in out.splitlines()[0]


def test_json_output_has_every_field_and_the_mapped_variables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = by_name("apc-back-ups-es-850g2")
    code, out, err = run(
        capsys,
        "--descriptor",
        str(descriptor_file(tmp_path, capture)),
        *report_args(capture),
        "--vid",
        "051d",
        "--pid",
        "0002",
        "--json",
    )
    assert (code, err) == (0, "")
    document = json.loads(out)
    assert set(document) == {"fields", "variables"}
    descriptor = ReportDescriptor.from_bytes(capture.descriptor)
    assert len(document["fields"]) == len(descriptor.fields)
    assert all(
        set(f) == {"path", "type", "report_id", "offset", "size", "value"}
        for f in document["fields"]
    )
    by_place = {(f["type"], f["report_id"], f["offset"]): f for f in document["fields"]}
    for line in capture.paths:
        field = by_place[(line["type"], line["report_id"], line["offset"])]
        assert field["path"] == line["path"]
        if line["value"] is not None:
            assert field["value"] == line["value"]
    expected = map_reports(descriptor, capture.feature_reports(), vendor_for(0x051D, 2), 2)
    assert document["variables"].pop("ups.status") == str(expected.status)
    assert document["variables"] == expected.values
    assert document["variables"]["battery.date"] == "2001/09/25"


def test_json_values_are_null_without_a_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = by_name("eaton-9px-2200grt-l")
    code, out, _ = run(capsys, "--descriptor", str(descriptor_file(tmp_path, capture)), "--json")
    document = json.loads(out)
    assert code == 0
    assert {f["value"] for f in document["fields"]} == {None}
    assert document["variables"] == {}, "no report, no values and no status"


def test_report_kind_picks_the_layout_of_an_id_whose_input_and_feature_differ(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Eaton 9PX report 0x03: FanFailure sits at bit 24 as Feature, bit 16 as Input.
    capture = by_name("eaton-9px-2200grt-l")
    path = str(descriptor_file(tmp_path, capture))
    fan = {}
    for kind in ("input:", "feature:", ""):
        code, out, _ = run(
            capsys, "--descriptor", path, "--report", f"{kind}03 00 11 22 33 44", "--json"
        )
        assert code == 0
        fan[kind] = {
            f["type"]: f["value"]
            for f in json.loads(out)["fields"]
            if f["report_id"] == 3 and f["path"].endswith(".ffff0077") and f["value"] is not None
        }
    assert fan == {"input:": {"Input": 0x22}, "feature:": {"Feature": 0x33}, "": {"Feature": 0x33}}


@pytest.mark.parametrize(
    ("descriptor_text", "reports", "message"),
    [
        ("05 84 zz", [], "'zz' is not hex bytes"),
        ("", [], "no hex bytes"),
        ("05 84 09 04 a1 01", [], "malformed descriptor: Collection is never closed"),
        (None, ["ee 01"], "declares no report 0xee"),
        (None, ["output:0c 64"], "the kind must be input: or feature:"),
        (None, ["0c 6"], "'6' is not hex bytes"),
        (None, ["08 64"], "report 0x08 has 1 data bytes"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    descriptor_text: str | None,
    reports: list[str],
    message: str,
) -> None:
    capture = by_name("cyberpower-cp1500pfclcd")
    path = descriptor_file(tmp_path, capture)
    if descriptor_text is not None:
        path.write_text(descriptor_text)
    args = ["--descriptor", str(path)] + (["--report", *reports] if reports else [])
    code, out, err = run(capsys, *args)
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1
    assert err.startswith("upsight hid: ")
    assert message in err


def test_a_missing_descriptor_file_is_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--descriptor", str(tmp_path / "absent.hex"))
    assert (code, out) == (2, "")
    assert "cannot read" in err
    assert len(err.splitlines()) == 1


def test_the_installed_command_runs_and_imports_the_tool_only_when_asked(tmp_path: Path) -> None:
    capture = by_name("tripplite-09ae-4003")
    result = subprocess.run(
        [
            str(UPSIGHT),
            "hid",
            "decode",
            "--descriptor",
            str(descriptor_file(tmp_path, capture)),
            *report_args(capture),
            "--vid",
            "0x09ae",
            "--pid",
            "0x4003",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "battery.temperature: 23.85" in result.stdout.splitlines()
    help_text = subprocess.run(
        [str(UPSIGHT), "hid", "decode", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert help_text.returncode == 0
    assert "--descriptor FILE" in help_text.stdout
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from upsight.agent import cli; cli.build_parser();"
            " print('upsight.agent.hid_cli' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert probe.stdout.strip() == "False"


def test_format_of_numbers_matches_upsc(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capture = by_name("apc-smart-ups-1500-rm")
    code, out, _ = run(
        capsys,
        "--descriptor",
        str(descriptor_file(tmp_path, capture)),
        *report_args(capture),
        "--vid",
        "0x051d",
        "--pid",
        "0x0002",
    )
    assert code == 0
    assert f"ups.load: {format_value(10.4)}" in out.splitlines()
    assert "battery.temperature: 15.25" in out.splitlines()


def test_a_missing_status_report_means_no_status_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # iDowell's status bits sit in report 0x01, which the capture lacks.
    capture = by_name("idowell-075d-0300")
    code, out, _ = run(
        capsys, "--descriptor", str(descriptor_file(tmp_path, capture)), *report_args(capture)
    )
    assert code == 0
    assert not any(line.startswith("ups.status") for line in out.splitlines())
    assert "battery.runtime: 125040" in out.splitlines()
