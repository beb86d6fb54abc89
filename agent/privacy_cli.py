"""``upsight privacy``: see and change what may leave this computer, and act on your data."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from upsight.agent.privacy.builder import utc_text
from upsight.agent.privacy.consent import LocalUser, Surface
from upsight.agent.privacy.purposes import PURPOSES, UPLOAD_PURPOSES, Purpose

if TYPE_CHECKING:
    from upsight.agent.api.client import ApiClient
    from upsight.agent.paths import AppPaths
    from upsight.agent.privacy.center import PrivacyCenter


class PrivacyCliError(Exception):
    """A failure reported on one line; exit code 1."""


def _purpose(text: str) -> Purpose:
    try:
        purpose = Purpose(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"unknown purpose {text!r}; one of {', '.join(UPLOAD_PURPOSES)}"
        ) from None
    if purpose not in UPLOAD_PURPOSES:
        raise argparse.ArgumentTypeError(f"{purpose} is not a choice; it is always on or off")
    return purpose


def build_parser() -> argparse.ArgumentParser:
    """The parser of the arguments after ``upsight privacy``."""
    parser = argparse.ArgumentParser(
        prog="upsight privacy",
        description="What may leave this computer, per purpose; everything starts off.",
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = sub.add_parser("show", help="each purpose: effective state, your choice, who decided")
    show.add_argument("--json", action="store_true")
    for name, what in (("grant", "allow uploads for"), ("withdraw", "stop uploads for")):
        cmd = sub.add_parser(name, help=f"{what} a purpose")
        cmd.add_argument("purpose", type=_purpose, metavar="PURPOSE")
    toggle = sub.add_parser("subtoggle", help="switch an extra inside a purpose on or off")
    toggle.add_argument("purpose", type=_purpose, metavar="PURPOSE")
    toggle.add_argument("name", metavar="NAME")
    toggle.add_argument("state", choices=("on", "off"))
    preview = sub.add_parser("preview", help="the exact next envelope for a purpose, as JSON")
    preview.add_argument("purpose", type=_purpose, metavar="PURPOSE")
    ledger = sub.add_parser("ledger", help="every envelope sent, rejected or dropped")
    ledger.add_argument("--purpose", type=_purpose)
    ledger.add_argument("--limit", type=int, default=50)
    ledger.add_argument("--format", choices=("text", "json", "csv"), default="text")
    ledger.add_argument("--payload", action="store_true", help="print each exact payload too")
    catalogue = sub.add_parser("catalogue", help="every field that could ever be sent")
    catalogue.add_argument("--json", action="store_true")
    sub.add_parser("history", help="the consent log, oldest first")
    export = sub.add_parser("export", help="a zip of everything kept about this install")
    export.add_argument("file", type=Path, metavar="FILE.zip")
    delete = sub.add_parser("delete-local", help="delete local history, queue, ledger, sign-in")
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    request = sub.add_parser("request-deletion", help="ask the cloud to delete what it has")
    request.add_argument("purposes", type=_purpose, nargs="*", metavar="PURPOSE")
    sub.add_parser("reset-identifiers", help="new install id and pseudonym key")
    token = sub.add_parser("token", help="store or forget the cloud device token")
    token.add_argument("state", choices=("set", "clear"), help="set reads the token from stdin")
    return parser


def _center(paths: AppPaths) -> PrivacyCenter:
    from upsight.agent.privacy.center import PrivacyCenter

    return PrivacyCenter(paths.data_dir / "privacy")


def _tell_agent(client: ApiClient | None) -> None:
    # The running agent re-reads consent before every send anyway; this makes it cancel
    # a request in flight and purge at once instead of at its next attempt.
    if client is not None:
        client.call("privacy.changed")


def _show(center: PrivacyCenter, client: ApiClient | None, as_json: bool) -> int:
    views = center.views()
    uploads = client.call("privacy.status") if client else None
    rows = [
        {
            "purpose": str(v.purpose),
            "name": PURPOSES[v.purpose].name,
            "effective": "on" if v.effective.on else "off",
            "stored": str(v.consent.stored),
            "decided_by": v.decided_by,
            "locked": v.effective.locked,
        }
        for v in views
    ]
    problems = center.problems()
    if as_json:
        print(json.dumps({"purposes": rows, "problems": problems, "uploads": uploads}, indent=2))
        return 0
    width = max(len(str(p)) for p in UPLOAD_PURPOSES)
    for r in rows:
        lock = " (locked)" if r["locked"] else ""
        print(
            f"{r['purpose']:<{width}}  {r['effective']:<3}{lock}  stored: {r['stored']}; "
            f"{r['decided_by']}"
        )
    for problem in problems:
        print(f"problem: {problem}")
    if uploads is not None:
        print(f"endpoint: {uploads['endpoint'] or 'none set'}")
        if uploads["problem"]:
            print(f"uploads: {uploads['problem']}")
        if uploads["sender"]:
            sender = uploads["sender"]
            print(f"sender: {sender['state']} {sender['reason']}".rstrip())
    counts = center.outbox.counts()
    queued = ", ".join(f"{p} {n}" for p, (n, _) in counts.items() if n) or "nothing"
    print(f"queued: {queued}")
    return 0


def _preview(center: PrivacyCenter, client: ApiClient | None, purpose: Purpose) -> int:
    if client is not None:
        reply = client.call("privacy.preview", purpose=str(purpose))
        document, allowed = reply["envelope"], reply["allowed"]
    else:
        from upsight.agent.privacy.snapshot import client_facts, snapshot

        print(
            "upsight: no running agent, so no UPS readings: this preview holds only "
            "what describes this install",
            file=sys.stderr,
        )
        envelope, allowed = center.preview(
            purpose, snapshot(client_facts(center.store.install_id), None)
        )
        document = envelope.to_json()
    if not allowed:
        print(
            f"upsight: {purpose} is off, so nothing is sent; this is what would be", file=sys.stderr
        )
    print(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False))
    return 0


def _ledger(center: PrivacyCenter, args: argparse.Namespace) -> int:
    if args.format == "json":
        center.ledger.export_json(sys.stdout)
        return 0
    if args.format == "csv":
        center.ledger.export_csv(sys.stdout)
        return 0
    entries = center.ledger.entries(purpose=args.purpose, limit=args.limit)
    if not entries:
        print("Nothing has been sent, rejected or dropped.")
    for e in entries:
        detail = f" ({e.detail})" if e.detail else ""
        when = utc_text(e.at)
        print(f"{when}  {e.purpose:<19} {e.result:<22} {e.size:>6} B  {e.envelope_id}{detail}")
        if args.payload and e.payload:
            print(json.dumps(json.loads(e.payload), indent=2, sort_keys=True))
    return 0


def _catalogue(center: PrivacyCenter, as_json: bool) -> int:
    fields = [
        {
            "field": f.id,
            "description": f.description,
            "category": str(f.category),
            "purposes": [str(p) for p in f.purposes],
            "transform": {str(p): str(t) for p, t in f.upload_transform.items()},
            "local_retention_days": str(f.local_retention_days),
            "org_grantable": f.org_grantable,
        }
        for f in center.inventory.fields.values()
    ]
    if as_json:
        print(
            json.dumps({"inventory_version": center.inventory.version, "fields": fields}, indent=2)
        )
        return 0
    writer = csv.writer(sys.stdout, delimiter="\t", lineterminator="\n")
    writer.writerow(["FIELD", "CATEGORY", "PURPOSES", "DESCRIPTION"])
    for field in center.inventory.fields.values():
        purposes = ",".join(str(p) for p in field.purposes)
        writer.writerow([field.id, str(field.category), purposes, field.description])
    return 0


def _history(center: PrivacyCenter) -> int:
    from upsight.agent.privacy.consent import ConsentStoreError

    try:
        entries = center.store.history()
    except ConsentStoreError:
        # A broken chain is what this command must report, not fail on; verify_log names it.
        entries = ()
    for entry in entries:
        print(
            f"{entry.ts}  {entry.purpose or '(all)'}: {entry.from_state} -> {entry.to_state} "
            f"by {entry.source} via {entry.surface}"
        )
    report = center.store.verify_log()
    print("log chain: intact" if report.ok else f"log chain: BROKEN: {report.problem}")
    return 0 if report.ok else 1


def _token(center: PrivacyCenter, state: str) -> int:
    if state == "clear":
        center.secrets.delete_token()
        print("Signed out: the device token is deleted.")
        return 0
    token = sys.stdin.readline().strip()
    if not token:
        raise PrivacyCliError("no token on standard input")
    center.secrets.set_token(token)
    print("The device token is stored in the system keychain.")
    return 0


def _grant(center: PrivacyCenter, args: argparse.Namespace, client: ApiClient | None) -> int:
    center.grant(args.purpose, actor=LocalUser.current(), surface=Surface.CLI)
    _tell_agent(client)
    view = center.gate.view(args.purpose)
    if not view.effective.on:
        print(f"{args.purpose}: your choice is recorded, but it stays off: {view.decided_by}")
        return 0
    print(f"{args.purpose}: allowed. Withdraw any time: upsight privacy withdraw {args.purpose}")
    return 0


def _withdraw(center: PrivacyCenter, args: argparse.Namespace, client: ApiClient | None) -> int:
    done = center.withdraw(args.purpose, actor=LocalUser.current(), surface=Surface.CLI)
    _tell_agent(client)
    if not done.changed:
        print(f"{args.purpose}: already not allowed.")
        return 0
    print(
        f"{args.purpose}: not allowed. Deleted {done.purged} queued envelope(s); "
        "asked the cloud to delete what it received"
        + ("; new install identifiers." if done.rotated else ".")
    )
    return 0


def _subtoggle(center: PrivacyCenter, args: argparse.Namespace, client: ApiClient | None) -> int:
    on = args.state == "on"
    center.set_subtoggle(
        args.purpose, args.name, on, actor=LocalUser.current(), surface=Surface.CLI
    )
    _tell_agent(client)
    print(f"{args.purpose}: {args.name} {args.state}.")
    return 0


def _export(center: PrivacyCenter, args: argparse.Namespace, paths: AppPaths) -> int:
    from upsight.agent.history.store import HistoryStore
    from upsight.agent.privacy import subject

    history = HistoryStore(paths.history_db) if paths.history_db.exists() else None
    try:
        files = subject.export(center, history, args.file)
    finally:
        if history is not None:
            history.close()
    print(f"Wrote {args.file}: manifest.json and {len(files)} files.")
    return 0


def _confirmed(question: str) -> bool:
    try:
        return input(question).strip().lower() == "y"
    except EOFError:
        # No answer at all (stdin closed, as in a script) is not a yes.
        print()
        return False


def _delete_local(
    center: PrivacyCenter, args: argparse.Namespace, paths: AppPaths, client: ApiClient | None
) -> int:
    from upsight.agent.privacy import subject

    if client is not None:
        raise PrivacyCliError("stop the agent first: it holds the history database open")
    if not args.yes and not _confirmed("Delete all local Upsight data? [y/N] "):
        print("Nothing deleted.")
        return 1
    gone = subject.delete_local(center, paths.history_db)
    print(
        f"Deleted: history {'yes' if gone.history else 'none'}, "
        f"{gone.envelopes} queued envelope(s), {gone.ledger_rows} ledger row(s), "
        f"sign-in {'yes' if gone.token else 'none'}; {gone.withdrawn} purpose(s) withdrawn; "
        "deletion requests stay queued; new install identifiers."
    )
    return 0


def _request_deletion(
    center: PrivacyCenter, args: argparse.Namespace, client: ApiClient | None
) -> int:
    envelope = center.request_deletion(args.purposes or None)
    _tell_agent(client)
    print(f"Deletion request {envelope.envelope_id} queued.")
    return 0


def _reset(center: PrivacyCenter) -> int:
    center.reset_identifiers()
    print("New install id and pseudonym key: earlier uploads can no longer be linked.")
    return 0


def run(args: argparse.Namespace, paths: AppPaths, client: ApiClient | None) -> int:
    """Carry out one parsed ``upsight privacy`` command."""
    center = _center(paths)
    try:
        actions: dict[str, Callable[[], int]] = {
            "show": lambda: _show(center, client, args.json),
            "grant": lambda: _grant(center, args, client),
            "withdraw": lambda: _withdraw(center, args, client),
            "subtoggle": lambda: _subtoggle(center, args, client),
            "preview": lambda: _preview(center, client, args.purpose),
            "ledger": lambda: _ledger(center, args),
            "catalogue": lambda: _catalogue(center, args.json),
            "history": lambda: _history(center),
            "export": lambda: _export(center, args, paths),
            "delete-local": lambda: _delete_local(center, args, paths, client),
            "request-deletion": lambda: _request_deletion(center, args, client),
            "reset-identifiers": lambda: _reset(center),
            "token": lambda: _token(center, args.state),
        }
        return actions[args.action]()
    finally:
        center.close()


def main(argv: Sequence[str], paths: AppPaths, client: ApiClient | None) -> int:
    """Run ``upsight privacy`` with the arguments after ``privacy``."""
    from upsight.agent.privacy.center import PurposeOff
    from upsight.agent.privacy.consent import ConsentError, ConsentStoreError
    from upsight.agent.privacy.secrets import SecureStorageUnavailable

    args = build_parser().parse_args(argv)
    try:
        return run(args, paths, client)
    except (
        PrivacyCliError,
        PurposeOff,
        ConsentError,
        ConsentStoreError,
        SecureStorageUnavailable,
    ) as exc:
        print(f"upsight privacy: {exc}", file=sys.stderr)
        return 1
