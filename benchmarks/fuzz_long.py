"""Coverage-guided long fuzzing of the parsers and loaders with atheris (libFuzzer).

The targets are those of tests/fuzz/targets.py, seeded from tests/fixtures and the
emulators (tests/fuzz/seeds.py). Each target runs in its own process; an exception a
target lets out is a finding, saved with its input and counted, and the run goes on.
Afterwards the corpus is replayed under coverage.py to measure line coverage of the
target's own modules.

Run (atheris is the optional ``fuzz`` extra: pip install -e '.[fuzz]')::

    python -m benchmarks.fuzz_long megatec --seconds 90
    python -m benchmarks.fuzz_long --all --seconds 90      # every target, 90 s each
    python -m benchmarks.fuzz_long hid --seconds 600 --keep /tmp/hid-fuzz

Prints, per target: executions, exec/s, libFuzzer's edge coverage (cov) and features
(ft), corpus size, line coverage of the target modules, and findings.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import io
import re
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol, cast

ROOT: Final = Path(__file__).resolve().parents[1]

# The product modules each target exercises, for line coverage.
MODULES: Final[dict[str, tuple[str, ...]]] = {
    "hid": ("drivers/hid/descriptor.py", "drivers/hid/decode.py", "drivers/hid/mapping.py"),
    "megatec": ("drivers/serial/megatec.py",),
    "apcsmart": ("drivers/serial/apcsmart.py",),
    "nut-server": (
        "agent/nut_server/wire.py",
        "agent/nut_server/commands.py",
        "agent/nut_server/session.py",
    ),
    "nut-client": ("drivers/nut/protocol.py", "drivers/nut/driver.py", "drivers/nut/connection.py"),
    "config": ("agent/config.py",),
    "device-spec": ("drivers/spec.py",),
    "policy-json": ("agent/privacy/admin_policy.py", "agent/settings_policy.py"),
    "policy-plist": ("agent/privacy/admin_policy.py", "agent/settings_policy.py"),
    "policy-registry": ("agent/privacy/admin_policy.py", "agent/settings_policy.py"),
}

# A libFuzzer status line: "#12345  DONE   cov: 812 ft: 2301 corp: 140/9812b ...".
_STATUS: Final = re.compile(r"#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/")
_DONE: Final = re.compile(r"Done (\d+) runs in (\d+) second")
_FINDING_MARK: Final = "FUZZ-FINDING "


class _Atheris(Protocol):
    """The part of atheris this module uses (it ships no type information)."""

    def Setup(  # noqa: N802 - atheris' name
        self, argv: list[str], test_one_input: Callable[[bytes], None]
    ) -> list[str]: ...

    def Fuzz(self) -> None: ...  # noqa: N802 - atheris' name

    def instrument_all(self) -> None: ...


@dataclass(frozen=True)
class Figures:
    """What one target's run gave."""

    target: str
    executions: int
    seconds: int
    cov: int
    ft: int
    corpus: int
    line_coverage_pct: float
    findings: int


def _child(target: str, seconds: int, workdir: Path) -> None:
    """Fuzz one target in this process; libFuzzer exits the process when time is up."""
    atheris = cast(_Atheris, importlib.import_module("atheris"))
    from tests.fuzz.seeds import SEEDS
    from tests.fuzz.targets import TARGETS

    corpus, findings = workdir / "corpus", workdir / "findings"
    corpus.mkdir(parents=True, exist_ok=True)
    findings.mkdir(exist_ok=True)
    for seed in SEEDS[target]():
        (corpus / hashlib.sha1(seed).hexdigest()).write_bytes(seed)
    function = TARGETS[target]
    seen: set[str] = set()

    def test_one_input(data: bytes) -> None:
        try:
            function(data)
        except Exception as exc:
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            key = f"{type(exc).__name__} at {Path(frame.filename).name}:{frame.lineno}"
            if key not in seen:
                seen.add(key)
                (findings / hashlib.sha1(data).hexdigest()).write_bytes(data)
                print(f"{_FINDING_MARK}{key}: {exc!s:.120} input={data[:80]!r}", flush=True)

    atheris.instrument_all()
    argv = [
        sys.argv[0],
        str(corpus),
        f"-max_total_time={seconds}",
        "-timeout=10",
        "-rss_limit_mb=4096",
        "-max_len=4096",
        "-print_final_stats=1",
    ]
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


def _line_coverage(target: str, corpus: Path) -> float:
    """Replay the corpus under coverage.py; the percentage of the target modules' lines run."""
    import coverage

    from tests.fuzz.targets import TARGETS

    files = [str(ROOT / m) for m in MODULES[target]]
    cov = coverage.Coverage(include=files, data_file=None)
    cov.start()
    for path in sorted(corpus.iterdir()):
        try:
            TARGETS[target](path.read_bytes())
        except Exception:
            # Findings are counted by the fuzzing run; here only coverage matters.
            continue
    cov.stop()
    # Only the total is kept; the per-file table goes nowhere.
    return cov.report(file=io.StringIO(), show_missing=False)


def run_target(target: str, seconds: int, keep: Path | None) -> Figures:
    """Fuzz one target in a child process and gather its figures."""
    workdir = keep / target if keep else Path(tempfile.mkdtemp(prefix=f"upsight-fuzz-{target}-"))
    workdir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "benchmarks.fuzz_long", target]
    command += ["--seconds", str(seconds), "--child", str(workdir)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    log = result.stdout + result.stderr
    (workdir / "fuzz.log").write_text(log)
    for line in log.splitlines():
        if line.startswith(_FINDING_MARK):
            print(f"  {target}: {line.removeprefix(_FINDING_MARK)}")
    statuses = _STATUS.findall(log)
    done = _DONE.search(log)
    if not statuses:
        raise SystemExit(f"{target}: libFuzzer printed no status; see {workdir / 'fuzz.log'}")
    executions, cov, ft, corpus = (int(x) for x in statuses[-1])
    crashed = "==ERROR: libFuzzer" in log or "ALARM: working on the last Unit" in log
    findings = log.count(_FINDING_MARK) + int(crashed)
    return Figures(
        target=target,
        executions=int(done.group(1)) if done else executions,
        seconds=max(1, int(done.group(2))) if done else seconds,
        cov=cov,
        ft=ft,
        corpus=corpus,
        line_coverage_pct=_line_coverage(target, workdir / "corpus"),
        findings=findings,
    )


def _table(rows: Sequence[Figures]) -> str:
    head = f"{'target':<16}{'execs':>10}{'exec/s':>9}{'cov':>7}{'ft':>7}{'corpus':>8}"
    head += f"{'lines %':>9}{'findings':>10}"
    lines = [head, "-" * len(head)]
    for f in rows:
        lines.append(
            f"{f.target:<16}{f.executions:>10}{f.executions // f.seconds:>9}{f.cov:>7}{f.ft:>7}"
            f"{f.corpus:>8}{f.line_coverage_pct:>9.1f}{f.findings:>10}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    from tests.fuzz.targets import TARGETS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", nargs="?", choices=sorted(TARGETS))
    parser.add_argument("--all", action="store_true", help="fuzz every target in turn")
    parser.add_argument("--seconds", type=int, default=90, help="per target (default 90)")
    parser.add_argument("--keep", type=Path, help="keep corpora, findings and logs here")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        _child(args.target, args.seconds, args.child)
        return
    if args.all == (args.target is not None):
        parser.error("name one target or give --all")
    targets = sorted(TARGETS) if args.all else [args.target]
    rows = []
    for target in targets:
        rows.append(run_target(target, args.seconds, args.keep))
        print(_table(rows[-1:]).splitlines()[-1], flush=True)
    print(_table(rows))


if __name__ == "__main__":
    main()
