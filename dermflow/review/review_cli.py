"""``dermflow users ...`` and ``dermflow verdicts ...``: accounts and verdicts from the command line.

    dermflow users add alice --role reviewer          # asks for the password twice (--password-stdin for scripts)
    dermflow users token alice                        # prints a new API token, this once
    dermflow verdicts export --output var/scores      # var/scores/verdicts/model_version=<v>/*.parquet
    dermflow verdicts export --as-span --output /data/isic --source-root /data/inputs   # /data/isic/spans/reviewed

Every command opens ``review.database_url`` (``--config``/``--set``). A mistake (unknown account,
bad role, short password, a database that cannot be opened) is one line and exit 2. No password
is ever printed or logged; a token only by ``users token``, on stdout, once. Comments and OTHER
free text may hold patient data: ``verdicts list`` shows them only with ``--free-text``.
"""
from __future__ import annotations

import argparse
import getpass
import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from dermflow.config import DermflowConfig
from dermflow.review.review_enums import Role
from dermflow.review.review_errors import AccountError, ReviewStoreError

ROLES = [role.value for role in Role]


def add_users_arguments(parser: argparse.ArgumentParser, add_config_args) -> None:
    sub = parser.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    for name, help_text in (
        ("add", "Make an account (asks for its password twice)."), ("passwd", "Set an account's password (ends its sign-ins)."),
        ("role", "Change an account's role."), ("disable", "Disable an account (signs it out; its tokens stop working)."),
        ("enable", "Enable a disabled account."), ("list", "List the accounts."),
        ("token", "Print a new API token for an account (shown this once)."),
        ("revoke-tokens", "Revoke every API token of an account."),
    ):
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_config_args(p)
        if name != "list":
            p.add_argument("name", help="Account name.")
        role_help = "viewer: reads; reviewer: also records verdicts; admin: also manages accounts."
        if name == "add":
            p.add_argument("--role", required=True, choices=ROLES, help=role_help)
        if name == "role":
            p.add_argument("new_role", choices=ROLES, metavar="ROLE", help=role_help)
        if name in ("add", "passwd"):
            p.add_argument("--password-stdin", action="store_true", help="Read the password from the first line of stdin.")
        if name == "token":
            p.add_argument("--label", default="", help="What the token is for (stored with it).")
        if name == "list":
            p.add_argument("--json", action="store_true")


def add_verdicts_arguments(parser: argparse.ArgumentParser, add_config_args) -> None:
    sub = parser.add_subparsers(dest="verdicts_command", required=True, metavar="ACTION")
    p = sub.add_parser("export", help="Write every verdict as Hive-partitioned Parquet (OUTPUT/verdicts/); with "
                       "--as-span, the reviewed cases as a training span (OUTPUT/spans/reviewed/).")
    add_config_args(p)
    p.add_argument("--output", type=Path, required=True,
                   help="Folder; the scoring output folder joins them on sha256. With --as-span: the data root.")
    p.add_argument("--as-span", action="store_true",
                   help="Write the images whose current verdict has one of review.training_bases as the span "
                        "'reviewed' of the data root OUTPUT, in the ISIC layout (docs/review.md).")
    p.add_argument("--source-root", action="append", type=Path, default=None,
                   help="With --as-span: folder the verdicts' image paths are relative to (repeatable; default "
                        "retrain.source_roots, else airflow.score_inputs).")
    p = sub.add_parser("list", help="Print verdicts, newest first (no comments unless --free-text).")
    add_config_args(p)
    p.add_argument("--sha256", help="Only this image's verdicts (its history).")
    p.add_argument("--limit", type=int, default=50, help="At most this many (0: all; default 50).")
    p.add_argument("--free-text", action="store_true",
                   help="Also print comments and OTHER text: they may hold patient data.")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("performance", help="Confusion matrix, balanced accuracy and sensitivities of the reviewed cases.")
    add_config_args(p)
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("send-sr", help="Send each current verdict on a DICOM input as an amended SR that references the "
                       "model's first SR (score.clinical_results_dir; and score.dicomweb_url when set).")
    add_config_args(p)
    p.add_argument("--output", type=Path, required=True, help="The scoring output folder the verdicts' images were scored into.")


@contextmanager
def _database(cfg: DermflowConfig) -> Iterator:
    from sqlalchemy.exc import DBAPIError

    from dermflow.review.review_database import open_configured_review_database

    try:
        db = open_configured_review_database(cfg.review)
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
        raise ReviewStoreError(f"cannot open the review database {_printable(cfg.review.database_url)}: {reason}") from None
    try:
        yield db
    finally:
        db.close()


def _printable(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _new_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    try:
        open("/dev/tty").close()
    except OSError:
        raise AccountError("no terminal to ask for the password on: give it on stdin with --password-stdin") from None
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise AccountError("the two passwords differ; nothing was changed")
    return first


def run_users(args: argparse.Namespace, cfg: DermflowConfig) -> int:
    from dermflow.review import user_accounts as accounts

    action = args.users_command
    password = _new_password(args.password_stdin) if action in ("add", "passwd") else None
    with _database(cfg) as db:
        if action == "add":
            user = accounts.add_user(db, args.name, args.role, password)
            print(f"users: added {user.name} ({user.role.value})")
        elif action == "passwd":
            accounts.change_password(db, args.name, password)
            print(f"users: new password for {args.name}; its sign-ins were ended")
        elif action == "role":
            print(f"users: {args.name} is now {accounts.change_role(db, args.name, args.new_role).role.value}")
        elif action in ("disable", "enable"):
            accounts.set_disabled(db, args.name, action == "disable")
            print(f"users: {args.name} {action}d")
        elif action == "token":
            token = accounts.issue_api_token(db, args.name, args.label)
            print(f"users: a new API token for {args.name}, shown this once (Authorization: Bearer ...):", file=sys.stderr)
            print(token)
        elif action == "revoke-tokens":
            print(f"users: revoked {accounts.revoke_api_tokens(db, args.name)} token(s) of {args.name}")
        else:
            _print_users(accounts.list_users(db), args.json)
    return 0


def _print_users(users, as_json: bool) -> None:
    rows = [{"name": u.name, "role": u.role.value, "disabled": u.disabled, "created_at": u.created_at.isoformat()}
            for u in users]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        print(f"{row['name']:<24} {row['role']:<9} {'disabled' if row['disabled'] else 'enabled':<9} {row['created_at']}")
    if not rows:
        print("users: no accounts yet (dermflow users add NAME --role admin)")


def run_verdicts(args: argparse.Namespace, cfg: DermflowConfig) -> int:
    from dermflow.review.reviewed_case_figures import reviewed_performance
    from dermflow.review.verdict_export import export_verdicts
    from dermflow.review.verdict_store import list_verdicts

    with _database(cfg) as db:
        if args.verdicts_command == "export" and args.as_span:
            _export_span(db, cfg, args.output, args.source_root)
        elif args.verdicts_command == "export":
            summary = export_verdicts(db, args.output)
            versions = ", ".join(f"{v or 'none'}: {n}" for v, n in sorted(summary.by_model_version.items(), key=str))
            print(f"verdicts: exported {summary.rows} verdict(s) on {summary.current} image(s) to {summary.path}"
                  + (f" (by model version: {versions})" if versions else ""))
        elif args.verdicts_command == "send-sr":
            _send_sr(db, cfg, args.output)
        elif args.verdicts_command == "list":
            if args.limit < 0:
                raise ReviewStoreError("--limit must be 0 (all) or more")
            verdicts = list_verdicts(db, sha256=args.sha256, limit=args.limit or None)
            _print_verdicts(verdicts, args.free_text, args.json)
        else:
            figures = reviewed_performance(db)
            if args.json:
                print(json.dumps([f.as_dict() for f in figures], indent=2, default=str))
            for f in [] if args.json else figures:
                _print_performance(f)
            if not figures and not args.json:
                print("verdicts: no reviewed case with a model shown yet")
    return 0


def _send_sr(db, cfg: DermflowConfig, output: Path) -> None:
    from dermflow.review.verdict_sr import send_verdicts_as_sr

    try:
        sent = send_verdicts_as_sr(db, cfg, output)
    except ValueError as exc:
        raise ReviewStoreError(str(exc)) from None
    print(f"verdicts: {sent.stored} amended SR(s) stored in the PACS, {sent.written} written to "
          f"score.clinical_results_dir only, {len(sent.failed)} failed, {len(sent.skipped)} not sent")
    for line in [*sent.failed, *sent.skipped]:
        print(f"verdicts: {line}")


def _export_span(db, cfg: DermflowConfig, data_root: Path, given_roots: list[Path] | None) -> None:
    from dermflow.imaging.model_input import ImagePathSettings
    from dermflow.review.reviewed_span import SpanExportError, export_reviewed_span, source_roots_of

    try:
        export = export_reviewed_span(db, data_root, cfg.review.training_bases, source_roots_of(cfg, given_roots),
                                      ImagePathSettings.from_config(cfg.data), cfg.data)
    except SpanExportError as exc:
        raise ReviewStoreError(str(exc)) from None
    classes = ", ".join(f"{code} {n}" for code, n in export.by_diagnosis.items()) or "none"
    state = "wrote" if export.changed else "unchanged:"
    print(f"verdicts: {state} the reviewed cases as span {export.path} ({export.images} image(s): {classes}; "
          f"verdicts up to {export.verdicts_until}, bases {', '.join(cfg.review.training_bases)})")
    for case in export.unavailable:
        print(f"verdicts: not in the span, its image could not be read: verdict {case['verdict_id']} "
              f"{case['sha256'][:12]} {case['image_path'] or ''}: {case['reason']}")


def _verdict_dict(v, free_text: bool) -> dict:
    row = {
        "id": v.id, "recorded_at": v.recorded_at.isoformat(timespec="seconds"), "sha256": v.sha256,
        "diagnosis": v.diagnosis.value, "basis": v.basis.value, "lesion_id": v.lesion_id, "reviewer": v.reviewer,
        "model_version": v.shown.model_version if v.shown else None,
        "predicted_label": v.shown.predicted_label if v.shown else None,
        "queue_reason": v.queue_reason.value, "supersedes": v.supersedes, "current": v.current,
    }
    if free_text:
        row.update(other_text=v.other_text, comment=v.comment)
    return row


def _print_verdicts(verdicts, free_text: bool, as_json: bool) -> None:
    rows = [_verdict_dict(v, free_text) for v in verdicts]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        line = (f"#{row['id']:<5} {row['recorded_at']} {row['sha256'][:12]} {row['diagnosis']:<5} {row['basis']:<14} "
                f"by {row['reviewer']:<12} shown {row['predicted_label'] or '-'} ({row['model_version'] or 'no model'}) "
                f"{row['queue_reason']}{' current' if row['current'] else ''}"
                f"{' corrects #' + str(row['supersedes']) if row['supersedes'] else ''}")
        if free_text and (row["other_text"] or row["comment"]):
            line += f"\n       other: {row['other_text'] or '-'}; comment: {row['comment'] or '-'}"
        print(line)
    if not rows:
        print("verdicts: none recorded")


def _print_performance(f) -> None:
    interval = f.balanced_accuracy_interval
    ba = "n/a" if f.balanced_accuracy is None else f"{f.balanced_accuracy:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"
    print(f"{f.model_name} {f.model_version} {f.group}: {f.n} reviewed image(s), {f.n_scored} in the model's classes; "
          f"balanced accuracy {ba}")
    for label, share in f.sensitivity.items():
        print(f"  sensitivity {label}: {share.successes}/{share.n} = {share.value:.3f} [{share.low:.3f}, {share.high:.3f}]")
    for truth, row in f.confusion.items():
        print(f"  truth {truth}: " + ", ".join(f"{predicted} {count}" for predicted, count in sorted(row.items())))
