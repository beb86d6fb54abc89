"""HTTPS transport against a real TLS server on 127.0.0.1: headers, routes, TLS refusals, aborts."""

from __future__ import annotations

import gzip
import inspect
import json
import logging
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers.cloud import Answer, Certificate, CloudServer, sample_envelope
from upsight.agent import __version__
from upsight.agent.privacy.purposes import Purpose
from upsight.agent.privacy.transport import (
    EndpointError,
    HttpsTransport,
    NotSignedIn,
    Reply,
    TransportFailure,
    check_endpoint,
    route,
)

TOKEN = "device-token-5f2c9a"
REPO = Path(__file__).resolve().parents[2]
PRIVACY_PACKAGE = REPO / "agent" / "privacy"
INSECURE = re.compile(r"verify\s*=\s*False|CERT_NONE|check_hostname\s*=\s*False")


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[CloudServer]:
    with CloudServer(tmp_path / "cloud") as server:
        yield server


@pytest.fixture
def transport(cloud: CloudServer) -> Iterator[HttpsTransport]:
    client = HttpsTransport(cloud.url, token=lambda: TOKEN, ca_bundle=cloud.ca_pem)
    yield client
    client.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_post_sends_the_canonical_json_gzipped_with_every_header(
    cloud: CloudServer, transport: HttpsTransport
) -> None:
    envelope = sample_envelope(epoch=3)
    reply = transport.post(envelope)
    assert reply.status == 200
    assert json.loads(reply.body) == {"accepted": envelope.envelope_id}
    [request] = cloud.posts()
    assert request.method == "POST"
    assert request.path == "/v1/envelopes/cloud_alerts"
    assert request.raw == envelope.encode()
    headers = request.headers
    assert headers["content-type"] == "application/json"
    assert headers["content-encoding"] == "gzip"
    assert headers["idempotency-key"] == envelope.envelope_id
    assert headers["x-consent-epoch"] == "3"
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["user-agent"] == f"Upsight/{__version__}"
    assert cloud.accepted == {envelope.envelope_id: envelope.to_json()}


def test_the_body_on_the_wire_is_gzip(cloud: CloudServer, transport: HttpsTransport) -> None:
    envelope = sample_envelope()
    transport.post(envelope)
    [request] = cloud.posts()
    assert int(request.headers["content-length"]) == len(gzip.compress(envelope.encode(), mtime=0))


@pytest.mark.parametrize(
    ("purpose", "data", "path"),
    [
        (Purpose.ENERGY_HISTORY, None, "/v1/envelopes/energy_history"),
        (Purpose.DIAGNOSTICS, None, "/v1/envelopes/diagnostics"),
        (Purpose.CONTROL, {"receipt.to": "denied"}, "/v1/privacy/consent-receipts"),
        (Purpose.CONTROL, {"deletion.purposes": ["all"]}, "/v1/privacy/deletion-requests"),
    ],
)
def test_routes(
    cloud: CloudServer,
    transport: HttpsTransport,
    purpose: Purpose,
    data: dict[str, object] | None,
    path: str,
) -> None:
    envelope = sample_envelope(purpose, data=data)
    assert route(envelope) == path
    assert transport.post(envelope).status == 200
    assert [r.path for r in cloud.posts()] == [path]


def test_a_deletion_request_gets_a_ticket(cloud: CloudServer, transport: HttpsTransport) -> None:
    envelope = sample_envelope(Purpose.CONTROL, data={"deletion.purposes": ["all"]})
    ticket = json.loads(transport.post(envelope).body)
    assert ticket["ticket_id"] == envelope.envelope_id


def test_local_data_is_never_posted(cloud: CloudServer, transport: HttpsTransport) -> None:
    with pytest.raises(ValueError, match="never uploaded"):
        transport.post(sample_envelope(Purpose.LOCAL))
    assert cloud.posts() == []


@pytest.mark.parametrize("token", [None, ""])
def test_without_a_token_nothing_is_sent(cloud: CloudServer, token: str | None) -> None:
    client = HttpsTransport(cloud.url, token=lambda: token, ca_bundle=cloud.ca_pem)
    with pytest.raises(NotSignedIn):
        client.post(sample_envelope())
    assert cloud.posts() == []


def test_the_token_is_asked_for_every_request(cloud: CloudServer) -> None:
    tokens = iter(["first-token", "second-token"])
    client = HttpsTransport(cloud.url, token=lambda: next(tokens), ca_bundle=cloud.ca_pem)
    client.post(sample_envelope())
    client.post(sample_envelope())
    assert [r.headers["authorization"] for r in cloud.posts()] == [
        "Bearer first-token",
        "Bearer second-token",
    ]


def test_reply_carries_status_and_retry_after(
    cloud: CloudServer, transport: HttpsTransport
) -> None:
    cloud.script(Answer(429, {"Retry-After": "120"}), Answer(503))
    first = transport.post(sample_envelope())
    second = transport.post(sample_envelope())
    assert (first.status, first.retry_after) == (429, "120")
    assert (second.status, second.retry_after) == (503, None)
    assert cloud.accepted == {}


def test_redirects_are_not_followed(cloud: CloudServer, transport: HttpsTransport) -> None:
    cloud.script(Answer(307, {"Location": "https://elsewhere.example/v1/envelopes/x"}))
    assert transport.post(sample_envelope()).status == 307
    assert len(cloud.posts()) == 1


def test_a_repeat_carries_the_same_idempotency_key(
    cloud: CloudServer, transport: HttpsTransport
) -> None:
    envelope = sample_envelope()
    transport.post(envelope)
    transport.post(envelope)
    first, second = cloud.posts()
    assert first.key == second.key == envelope.envelope_id
    assert first.raw == second.raw
    assert list(cloud.accepted) == [envelope.envelope_id]
    assert cloud.duplicates[envelope.envelope_id] == 1


def test_a_slow_reply_times_out(cloud: CloudServer) -> None:
    client = HttpsTransport(
        cloud.url, token=lambda: TOKEN, ca_bundle=cloud.ca_pem, read_timeout_s=0.2
    )
    cloud.script(Answer(delay_s=5.0))
    with pytest.raises(TransportFailure) as caught:
        client.post(sample_envelope())
    assert caught.value.kind == "timeout"
    assert TOKEN not in str(caught.value)


def test_a_reset_connection_is_a_connection_failure(
    cloud: CloudServer, transport: HttpsTransport
) -> None:
    cloud.script(Answer(reset=True))
    with pytest.raises(TransportFailure) as caught:
        transport.post(sample_envelope())
    assert caught.value.kind == "connection"
    assert transport.post(sample_envelope()).status == 200


def test_nobody_listening_is_a_connection_failure() -> None:
    client = HttpsTransport(f"https://127.0.0.1:{closed_port()}", token=lambda: TOKEN)
    with pytest.raises(TransportFailure) as caught:
        client.post(sample_envelope())
    assert caught.value.kind == "connection"


@pytest.mark.parametrize(
    "certificate", [Certificate.UNTRUSTED, Certificate.WRONG_NAME, Certificate.EXPIRED]
)
def test_a_bad_certificate_is_refused(tmp_path: Path, certificate: Certificate) -> None:
    with CloudServer(tmp_path / "cloud", certificate=certificate) as cloud:
        client = HttpsTransport(cloud.url, token=lambda: TOKEN, ca_bundle=cloud.ca_pem)
        with pytest.raises(TransportFailure) as caught:
            client.post(sample_envelope())
        assert caught.value.kind == "tls"
        cloud.wait_until(lambda c: c.handshake_failures == 1, "the refused handshake")
        assert cloud.posts() == []
        assert cloud.accepted == {}


def test_a_refused_certificate_is_named_with_the_host_and_the_reason(tmp_path: Path) -> None:
    with CloudServer(tmp_path / "cloud", certificate=Certificate.EXPIRED) as cloud:
        client = HttpsTransport(cloud.url, token=lambda: TOKEN, ca_bundle=cloud.ca_pem)
        with pytest.raises(TransportFailure) as caught:
            client.post(sample_envelope())
        assert str(caught.value) == (
            f"tls: certificate verify failed for 127.0.0.1:{cloud.port} (certificate has expired)"
        )


def test_without_the_admin_bundle_the_test_ca_is_not_trusted(cloud: CloudServer) -> None:
    client = HttpsTransport(cloud.url, token=lambda: TOKEN)
    with pytest.raises(TransportFailure) as caught:
        client.post(sample_envelope())
    assert caught.value.kind == "tls"
    assert cloud.posts() == []


def test_plain_http_works_to_loopback(tmp_path: Path) -> None:
    with CloudServer(tmp_path / "cloud", tls=False) as cloud:
        assert cloud.url.startswith("http://127.0.0.1:")
        client = HttpsTransport(cloud.url, token=lambda: TOKEN)
        assert client.post(sample_envelope()).status == 200
        assert len(cloud.accepted) == 1


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://example.com",
        "http://192.168.1.10:8080",
        "HTTP://cloud.upsight.example",
        "ftp://127.0.0.1",
        "cloud.upsight.example",
        "https://",
        "https://cloud.upsight.example/?region=eu",
        "https://cloud.upsight.example:99999",
    ],
)
def test_refused_endpoints(endpoint: str) -> None:
    with pytest.raises(EndpointError):
        HttpsTransport(endpoint, token=lambda: TOKEN)


def test_http_refusal_says_why() -> None:
    with pytest.raises(EndpointError, match=r"plain http://.*only to this computer"):
        check_endpoint("http://example.com")


def test_credentials_in_the_endpoint_are_refused_without_echoing_them() -> None:
    with pytest.raises(EndpointError) as caught:
        check_endpoint("https://admin:s3cret@cloud.upsight.example")
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize(
    ("endpoint", "base"),
    [
        ("https://cloud.upsight.example/", "https://cloud.upsight.example"),
        ("https://eu.cloud.upsight.example/api", "https://eu.cloud.upsight.example/api"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://localhost:8080/", "http://localhost:8080"),
        ("http://[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_allowed_endpoints(endpoint: str, base: str) -> None:
    assert HttpsTransport(endpoint, token=lambda: TOKEN).endpoint == base


def test_environment_proxies_and_bundles_are_ignored(
    cloud: CloudServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, dead)
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.setenv(name, str(tmp_path / "missing.pem"))
    client = HttpsTransport(cloud.url, token=lambda: TOKEN, ca_bundle=cloud.ca_pem)
    assert client.post(sample_envelope()).status == 200


def test_the_policy_proxy_is_used(cloud: CloudServer) -> None:
    client = HttpsTransport(
        cloud.url,
        token=lambda: TOKEN,
        ca_bundle=cloud.ca_pem,
        proxy=f"http://127.0.0.1:{closed_port()}",
    )
    with pytest.raises(TransportFailure) as caught:
        client.post(sample_envelope())
    assert caught.value.kind == "connection"
    assert cloud.posts() == []


@pytest.mark.parametrize("proxy", ["socks5://127.0.0.1:1080", "proxy.corp:8080", "http://"])
def test_a_malformed_proxy_is_refused(proxy: str) -> None:
    with pytest.raises(EndpointError, match="proxy"):
        HttpsTransport("https://cloud.upsight.example", token=lambda: TOKEN, proxy=proxy)


def test_abort_cuts_a_request_short(cloud: CloudServer, transport: HttpsTransport) -> None:
    cloud.script(Answer(delay_s=60.0))
    outcome: list[BaseException | Reply] = []

    def send() -> None:
        try:
            outcome.append(transport.post(sample_envelope()))
        except TransportFailure as exc:
            outcome.append(exc)

    worker = threading.Thread(target=send)
    worker.start()
    cloud.wait_for(1)
    transport.abort()
    worker.join(10)
    assert not worker.is_alive()
    [failure] = outcome
    assert isinstance(failure, TransportFailure)
    assert failure.kind == "aborted"
    # The transport stays usable for the next envelope.
    assert transport.post(sample_envelope()).status == 200


def test_abort_without_a_request_changes_nothing(
    cloud: CloudServer, transport: HttpsTransport
) -> None:
    transport.abort()
    assert transport.post(sample_envelope()).status == 200


def test_neither_token_nor_payload_is_logged(
    cloud: CloudServer, transport: HttpsTransport, caplog: pytest.LogCaptureFixture
) -> None:
    envelope = sample_envelope(data={"device.label": "Rack-7 secret room"})
    with caplog.at_level(logging.DEBUG):
        transport.post(envelope)
        cloud.script(Answer(reset=True))
        with pytest.raises(TransportFailure):
            transport.post(envelope)
    assert caplog.records
    assert TOKEN not in caplog.text
    assert "secret room" not in caplog.text


def test_there_is_no_way_to_turn_off_certificate_checks() -> None:
    assert set(inspect.signature(HttpsTransport).parameters) == {
        "endpoint",
        "token",
        "ca_bundle",
        "proxy",
        "connect_timeout_s",
        "read_timeout_s",
        "user_agent",
    }


def test_the_cloud_runs_as_a_separate_program(tmp_path: Path) -> None:
    port_file, ca_file, store = tmp_path / "port", tmp_path / "ca.pem", tmp_path / "store.jsonl"
    files = ["--port-file", str(port_file), "--ca-file", str(ca_file), "--store", str(store)]
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.peers.cloud", *files],
        cwd=REPO,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists():
            assert server.poll() is None
            assert time.monotonic() < deadline, "the cloud program did not start"
            time.sleep(0.05)
        port = int(port_file.read_text())
        client = HttpsTransport(f"https://127.0.0.1:{port}", token=lambda: TOKEN, ca_bundle=ca_file)
        envelope = sample_envelope()
        assert client.post(envelope).status == 200
    finally:
        server.kill()
        server.wait()
    [line] = store.read_text().splitlines()
    assert json.loads(line)["body"] == envelope.to_json()


def insecure_lines(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if INSECURE.search(line):
                found.append(f"{path.name}:{number}: {line.strip()}")
    return found


def test_the_privacy_package_never_disables_tls_verification() -> None:
    assert (PRIVACY_PACKAGE / "transport.py").exists()
    assert insecure_lines(PRIVACY_PACKAGE) == []


def test_the_tls_scan_catches_a_violation(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text(
        "session.get(url, verify=False)\nctx.verify_mode = ssl.CERT_NONE\n"
        "ctx.check_hostname = False\nfine = True\n"
    )
    assert len(insecure_lines(tmp_path)) == 3
