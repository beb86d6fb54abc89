"""NUT server throughput, latency, CPU and memory: Upsight's agent against NUT's own upsd.

Both serve the same dump file: upsd through dummy-ups, Upsight through a
``dummy:`` device of ``upsight run --nut-listen`` in its own process. Each
client keeps one connection and sends ``GET VAR <ups> ups.status`` requests one
at a time; the same load generator drives both servers:

* ``--load c`` (the default when a C compiler is found) compiles
  ``nut_load.c``, an epoll loop costing a few system calls per request. A
  Python loop costs about 10 µs of CPU per request, so with many clients it
  caps upsd well below what upsd can serve, and flatters Upsight's ratio.
* ``--load python`` drives the connections from one non-blocking loop in this
  process.

Rounds alternate between the servers (upsd, Upsight, upsd, ...) after a warm-up
of each, so a burst of load from elsewhere on the machine hits both alike.
Requests per second is all requests over all rounds' time; p50 and p99 are
over every request's latency, computed the same way for both. Server CPU is
user plus system time of the server's processes per request.
Run: python -m benchmarks.nut_server_bench [--requests 60000] [--rounds 3] [--clients 1 50]
Targets: throughput >= 0.5x upsd, p99 latency <= 2x upsd.
"""

from __future__ import annotations

import argparse
import array
import selectors
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from benchmarks.support import isolated_env, percentile, scratch_dir
from tests.peers.nut import NutServer, free_port

DUMP = (
    Path(__file__).parents[1] / "tests/fixtures/ddl/APC__Back-UPS_CS_650__usbhid-ups__2.7.2__01.dev"
)
LOAD_SOURCE = Path(__file__).with_name("nut_load.c")
# Protection only monitors: the benchmark must never act on this computer.
# upsd serves up to 1024 clients; Upsight's default limit is 32.
CONFIG = 'version = 1\n\n[protection]\naction = "none"\n\n[nut_server]\nmax_clients = 100\n'
WARMUP_REQUESTS = 200


@dataclass(frozen=True)
class Run:
    """One drive of one server: how long it took and each request's latency."""

    elapsed_s: float
    latencies_s: list[float]


@dataclass(frozen=True)
class Result:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_us: float  # server CPU time per request


# Drives ``clients`` connections to an address, each sending ``requests`` GET VARs of a UPS.
Driver = Callable[[tuple[str, int], str, int, int], Run]


@dataclass
class _Conn:
    sock: socket.socket
    left: int
    sent_at: float = 0.0
    buffer: bytes = b""


def drive_python(address: tuple[str, int], ups: str, clients: int, requests: int) -> Run:
    """The load generator in this process: one non-blocking loop over every connection."""
    request = f"GET VAR {ups} ups.status\n".encode()
    selector = selectors.DefaultSelector()
    conns = []
    for _ in range(clients):
        sock = socket.create_connection(address)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        conn = _Conn(sock, requests)
        conns.append(conn)
        selector.register(sock, selectors.EVENT_READ, conn)
    latencies: list[float] = []
    started = time.perf_counter()
    for conn in conns:
        conn.sent_at = time.perf_counter()
        conn.sock.send(request)
    active = clients
    while active:
        for key, _ in selector.select():
            conn = key.data
            conn.buffer += conn.sock.recv(4096)
            while b"\n" in conn.buffer:
                line, conn.buffer = conn.buffer.split(b"\n", 1)
                now = time.perf_counter()
                if not line.startswith(b"VAR "):
                    raise RuntimeError(f"unexpected reply {line!r}")
                latencies.append(now - conn.sent_at)
                conn.left -= 1
                if conn.left:
                    conn.sent_at = now
                    conn.sock.send(request)
                else:
                    selector.unregister(conn.sock)
                    active -= 1
    elapsed = time.perf_counter() - started
    for conn in conns:
        conn.sock.close()
    selector.close()
    return Run(elapsed, latencies)


def c_driver(workdir: Path) -> Driver:
    """A driver running ``nut_load.c``, compiled into ``workdir``.

    Raises:
        RuntimeError: no C compiler, or the source does not compile.
    """
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        raise RuntimeError("no C compiler found; use --load python")
    binary = workdir / "nut_load"
    subprocess.run([compiler, "-O2", "-o", str(binary), str(LOAD_SOURCE)], check=True)

    def drive(address: tuple[str, int], ups: str, clients: int, requests: int) -> Run:
        host, port = address
        command = [str(binary), host, str(port), f"GET VAR {ups} ups.status"]
        done = subprocess.run(
            [*command, str(clients), str(requests)], capture_output=True, check=False
        )
        if done.returncode:
            raise RuntimeError(done.stderr.decode(errors="replace").strip())
        elapsed_ns = int.from_bytes(done.stdout[:8], sys.byteorder)
        latencies_ns = array.array("I", done.stdout[8:])
        return Run(elapsed_ns / 1e9, [ns / 1e9 for ns in latencies_ns])

    return drive


def cpu_s(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        times = psutil.Process(pid).cpu_times()
        total += times.user + times.system
    return total


def rss_mb(pids: list[int]) -> float:
    return sum(psutil.Process(pid).memory_info().rss for pid in pids) / 2**20


def wait_answering(address: tuple[str, int], ups: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            drive_python(address, ups, 1, 1)
            return
        except (OSError, RuntimeError):
            time.sleep(0.2)
    raise TimeoutError(f"nothing answers GET VAR {ups} on {address}")


def start_upsight(root: Path, port: int) -> subprocess.Popen[bytes]:
    env = isolated_env(root)
    (root / "config" / "config.toml").write_text(CONFIG)
    command = [
        sys.executable, "-m", "upsight.agent.cli", "run", "--no-api",
        "--device", f"dummy:{DUMP}", "--nut-listen", f"127.0.0.1:{port}",
    ]  # fmt: skip
    log = (root / "upsight.log").open("wb")
    return subprocess.Popen(command, env=env, stdout=log, stderr=log)


@dataclass(frozen=True)
class Server:
    address: tuple[str, int]
    ups: str
    pids: list[int]


def measure(
    drive: Driver, servers: dict[str, Server], clients: int, requests: int, rounds: int
) -> dict[str, Result]:
    """Alternating rounds of ``requests`` requests in all, split among ``clients``."""
    per_client = max(1, requests // clients)
    runs: dict[str, list[Run]] = {name: [] for name in servers}
    cpu = dict.fromkeys(servers, 0.0)
    for server in servers.values():
        drive(server.address, server.ups, clients, max(1, WARMUP_REQUESTS // clients))
    for _ in range(rounds):
        for name, server in servers.items():
            before = cpu_s(server.pids)
            runs[name].append(drive(server.address, server.ups, clients, per_client))
            cpu[name] += cpu_s(server.pids) - before
    results = {}
    for name, server_runs in runs.items():
        latencies = [latency for run in server_runs for latency in run.latencies_s]
        elapsed = sum(run.elapsed_s for run in server_runs)
        results[name] = Result(
            len(latencies) / elapsed,
            percentile(latencies, 0.50) * 1000,
            percentile(latencies, 0.99) * 1000,
            cpu[name] / len(latencies) * 1e6,
        )
    return results


@dataclass(frozen=True)
class Report:
    """Every figure of one benchmark run."""

    load: str  # the load generator used
    results: dict[int, dict[str, Result]]  # by client count, then "upsd" / "upsight"
    memory_mb: dict[str, float]  # RSS by server


def run(requests: int, rounds: int, clients: list[int], load: str | None = None) -> Report:
    """Start both servers, measure each client count, stop them.

    Args:
        requests: requests per round, all clients together.
        rounds: rounds per server, alternating.
        clients: the client counts to measure.
        load: "c" or "python"; None picks c when a C compiler is found.
    """
    root = scratch_dir()
    load = load or ("c" if shutil.which("cc") or shutil.which("gcc") else "python")
    drive = c_driver(root) if load == "c" else drive_python
    nut = NutServer(root / "nut", DUMP.read_text()).start()
    port = free_port()
    agent = start_upsight(root / "upsight", port)
    try:
        assert nut.upsd is not None
        assert nut.driver is not None
        servers = {
            "upsd": Server(("127.0.0.1", nut.port), nut.name, [nut.upsd.pid, nut.driver.pid]),
            "upsight": Server(("127.0.0.1", port), "ups", [agent.pid]),
        }
        wait_answering(servers["upsight"].address, "ups")
        results = {count: measure(drive, servers, count, requests, rounds) for count in clients}
        memory = {name: rss_mb(server.pids) for name, server in servers.items()}
    finally:
        agent.terminate()
        agent.wait(10)
        nut.stop()
    return Report(load, results, memory)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=60000, help="per round, all clients")
    parser.add_argument("--rounds", type=int, default=3, help="per server, alternating")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 50])
    parser.add_argument("--load", choices=["c", "python"], help="load generator (default: c)")
    args = parser.parse_args()
    report = run(args.requests, args.rounds, args.clients, args.load)
    memory = report.memory_mb
    print(
        f"GET VAR ups.status, {args.rounds} alternating rounds of {args.requests} requests, "
        f"one connection per client, {report.load} load generator"
    )
    print(f"{'clients':>7} {'server':<8} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'cpu µs':>7}")
    for clients, by_server in report.results.items():
        for name, r in by_server.items():
            print(
                f"{clients:>7} {name:<8} {r.requests_per_s:>9.0f} {r.p50_ms:>8.3f} "
                f"{r.p99_ms:>8.3f} {r.cpu_us:>7.1f}"
            )
        ours, theirs = by_server["upsight"], by_server["upsd"]
        print(
            f"{clients:>7} {'ratio':<8} {ours.requests_per_s / theirs.requests_per_s:>9.2f} "
            f"{ours.p50_ms / theirs.p50_ms:>8.2f} {ours.p99_ms / theirs.p99_ms:>8.2f} "
            f"{ours.cpu_us / theirs.cpu_us:>7.2f}   (Upsight / upsd)"
        )
    print(
        f"RSS: upsd + dummy-ups {memory['upsd']:.1f} MB, upsight agent {memory['upsight']:.1f} MB "
        f"(ratio {memory['upsight'] / memory['upsd']:.1f})"
    )
    print("targets: throughput >= 0.5x upsd, p99 <= 2x upsd")


if __name__ == "__main__":
    main()
