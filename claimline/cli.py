"""The `claimline` command: the local stack, the services, file intake and the demo."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from claimline.scrub import add_arguments as scrub_arguments
from claimline.scrub import run as scrub_run

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_REJECTED = 2

SERVICES = ("ingest", "denials", "auths", "queues", "gateway")


def _settings() -> Any:
    from shared.runtime.settings import Settings

    return Settings()


# ---------------------------------------------------------------- stack


def cmd_stack(args: argparse.Namespace) -> int:
    from claimline import stack

    cfg = stack.StackConfig.from_env()
    try:
        if args.action == "up":
            stack.up(cfg)
            for line in stack.env_lines(cfg):
                print(line)
        elif args.action == "down":
            stack.down(cfg)
        elif args.action == "env":
            for line in stack.env_lines(cfg):
                print(line)
        else:
            healthy = True
            for name, state in stack.status(cfg).items():
                print(f"{name:9} {state}")
                healthy &= state.startswith("answering")
            return EXIT_OK if healthy else EXIT_FAILED
    except stack.StackError as exc:
        print(f"claimline stack {args.action}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


# ---------------------------------------------------------------- migrations and services


def cmd_migrate(args: argparse.Namespace) -> int:
    from shared.runtime.migrations import SERVICES_WITH_SCHEMAS, upgrade

    settings = _settings()
    for service in args.services or SERVICES_WITH_SCHEMAS:
        upgrade(service, settings.database_url)
        print(f"migrated {service}")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    import uvicorn

    from claimline.processes import DEFAULT_PORTS
    from shared.runtime.logging import configure_logging
    from shared.runtime.migrations import upgrade

    settings = _settings()
    configure_logging(args.service, settings.log_level, settings.log_format)
    schema = "queues" if args.service == "gateway" else args.service
    app: Any
    if args.service == "gateway":
        from services.queues.gateway.app import create_app as gateway_app

        app = gateway_app(settings)
        host, port = settings.gateway_host, args.port or settings.gateway_port
    else:
        module = __import__(f"services.{args.service}.main", fromlist=["create_app"])
        try:
            app = module.create_app(settings)
        except ValueError as exc:  # a configuration file operators edit is wrong: say where, do not start
            print(f"claimline run {args.service}: cannot start: {exc}", file=sys.stderr)
            return EXIT_FAILED
        host = settings.health_host
        port = args.port or settings.health_port or DEFAULT_PORTS[args.service]
    upgrade(schema, settings.database_url)
    if args.service != "gateway":
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=20,
            loop="asyncio",
            http="h11",
        )
        return EXIT_OK
    # The gateway: uvloop and httptools (less CPU per request than asyncio and h11), and as many
    # processes as asked, sharing the listening socket; each worker builds its own app and pool.
    workers = args.workers or settings.gateway_workers
    uvicorn.run(
        "claimline.processes:gateway_app" if workers > 1 else app,
        factory=workers > 1,
        workers=workers,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=20,
        loop="uvloop",
        http="httptools",
    )
    return EXIT_OK


def cmd_services(args: argparse.Namespace) -> int:
    from claimline import processes

    if args.action == "up":
        processes.up(args.only or list(SERVICES))
    elif args.action == "down":
        processes.down(args.only or list(SERVICES))
    else:
        return EXIT_OK if processes.status(args.only or list(SERVICES)) else EXIT_FAILED
    return EXIT_OK


# ---------------------------------------------------------------- registry and users


def cmd_practices(args: argparse.Namespace) -> int:
    from services.ingest.app import PracticeSpec, RegistryConflict, list_practices, register_practice
    from shared.runtime.db import make_engine

    settings = _settings()

    async def run() -> int:
        engine = make_engine(settings.database_url)
        try:
            if args.action == "list":
                for p in await list_practices(engine):
                    state = "" if p.active else " (inactive)"
                    print(
                        f"{p.practice_id}\t{p.name}{state}\tpayee NPI {','.join(p.payee_npis) or '-'}\t"
                        f"TIN {','.join(p.payee_tins) or '-'}\t"
                        f"rendering NPI {','.join(p.rendering_npis) or '-'}"
                    )
                return EXIT_OK
            if not args.practice_id or not args.name:
                print("claimline practices add: give PRACTICE_ID and --name", file=sys.stderr)
                return EXIT_FAILED
            spec = PracticeSpec(
                args.practice_id,
                args.name,
                tuple(args.payee_npi),
                tuple(args.payee_tin),
                tuple(args.rendering_npi),
                not args.inactive,
            )
            try:
                await register_practice(engine, settings, spec)
            except RegistryConflict as exc:
                print(f"claimline practices add: {exc}", file=sys.stderr)
                return EXIT_FAILED
            print(f"practice {args.practice_id} registered")
            return EXIT_OK
        finally:
            await engine.dispose()

    return asyncio.run(run())


def cmd_users(args: argparse.Namespace) -> int:
    from services.queues.adapters.repository import create_user
    from services.queues.domain.scope import Role
    from shared.runtime.db import make_engine

    settings = _settings()

    async def run() -> str:
        engine = make_engine(settings.database_url)
        try:
            async with engine.begin() as conn:
                return await create_user(
                    conn,
                    args.username,
                    Role(args.role),
                    tuple(args.practice),
                    tuple(args.provider),
                    args.token,
                )
        finally:
            await engine.dispose()

    token = asyncio.run(run())
    print(token)
    return EXIT_OK


# ---------------------------------------------------------------- files


def cmd_ingest(args: argparse.Namespace) -> int:
    from claimline.intake import ingest_files

    return asyncio.run(ingest_files([Path(p) for p in args.files], _settings(), as_json=args.json))


def cmd_parse(args: argparse.Namespace) -> int:
    from claimline.intake import parse_records

    status = EXIT_OK
    for name in args.files:
        for record in parse_records(Path(name)):
            if record["kind"] == "rejection":
                status = EXIT_REJECTED
            print(json.dumps(record, default=str))
    return status


def cmd_summary(args: argparse.Namespace) -> int:
    from claimline.summary import as_json, describe, summarize_835
    from services.denials.domain.catalog import load_catalog
    from services.ingest.app import sniff_kind

    meaning = {code: entry.meaning for code, entry in load_catalog().carcs.items()}
    status = EXIT_OK
    for name in args.files:
        path = Path(name)
        if not path.is_file() or sniff_kind(path) != "835":
            print(f"{name}: not an 835 file (claimline parse {name} says why)", file=sys.stderr)
            status = EXIT_REJECTED
            continue
        summary = summarize_835(path)
        if summary.problems:
            status = EXIT_REJECTED
        if args.json:
            print(json.dumps(as_json(summary), default=str))
        else:
            print("\n".join(describe(summary, meaning, reasons=args.reasons)))
    return status


def cmd_queues(args: argparse.Namespace) -> int:
    from claimline.demo import print_queue

    token = args.token or os.environ.get("CLAIMLINE_TOKEN")
    if not token:
        print("claimline queues: give --token or set CLAIMLINE_TOKEN", file=sys.stderr)
        return EXIT_FAILED
    return print_queue(args.url, token, limit=args.limit)


def cmd_codes(args: argparse.Namespace) -> int:
    """`claimline codes CARC 97`: our meaning, action and category; exit 1 for a code we do not know."""
    from services.denials.domain.catalog import load_catalog

    if args.kind.lower() == "import":
        return _import_official(args)
    kind = {"carc": "carc", "rarc": "rarc", "group": "group"}.get(args.kind.lower())
    if kind is None or not args.code:
        print(
            "usage: claimline codes CARC|RARC|GROUP CODE, or claimline codes import carc|rarc FILE.csv",
            file=sys.stderr,
        )
        return EXIT_FAILED
    entry = load_catalog().lookup(kind, args.code.upper())
    if entry is None:
        print(f"{kind.upper()} {args.code.upper()}: unknown to claimline; look it up in the official list")
        return EXIT_FAILED
    print(f"{kind.upper()} {entry.code}: {entry.meaning}")
    if entry.action:
        print(f"  next action: {entry.action}")
    if entry.category:
        print(f"  category: {entry.category}")
    if entry.appealable:
        print(f"  appealable: {entry.appealable}")
    return EXIT_OK


def _import_official(args: argparse.Namespace) -> int:
    from services.denials.official import OfficialListError, import_official, read_official_csv
    from shared.runtime.db import make_engine

    if not args.code or not args.file:
        print("usage: claimline codes import carc|rarc FILE.csv", file=sys.stderr)
        return EXIT_FAILED
    try:
        codes = read_official_csv(Path(args.file), args.code.lower())
    except OfficialListError as exc:
        print(f"claimline codes import: {exc}", file=sys.stderr)
        return EXIT_FAILED

    async def run() -> int:
        engine = make_engine(_settings().database_url)
        try:
            return await import_official(engine, args.code.lower(), codes, Path(args.file).name)
        finally:
            await engine.dispose()

    count = asyncio.run(run())
    retired = sum(1 for c in codes if c.stop_date)
    print(f"imported {count} official {args.code.upper()} codes ({retired} with a stop date)")
    return EXIT_OK


def cmd_auths(args: argparse.Namespace) -> int:
    """`claimline auths import FILE.csv --practice P`: authorizations exported from a payer portal."""
    from services.auths.domain.portal_csv import PortalCsvError, load_portal_csv, to_event
    from shared.runtime.broker import make_broker
    from shared.schemas import topics

    try:
        imported = load_portal_csv(Path(args.file), default_payer_id=args.payer_id, practice_id=args.practice)
        events = [to_event(row, args.practice) for row in imported.rows]
    except (PortalCsvError, ValueError) as exc:
        print(f"claimline auths import: {exc}", file=sys.stderr)
        return EXIT_FAILED
    settings = _settings()

    async def publish() -> None:
        broker = make_broker(settings, "auths-cli")
        await broker.connect()
        try:
            for event in events:
                await broker.publish(
                    event.model_dump_json().encode(),
                    topic=settings.topic(topics.AUTHS_RECORDS),
                    key=event.partition_key,
                    headers={"content-type": "application/json"},
                )
        finally:
            await broker.stop()

    asyncio.run(publish())
    print(f"published {len(events)} authorization(s) for practice {args.practice}")
    if imported.ignored_columns:
        print(f"  ignored columns: {', '.join(imported.ignored_columns)}")
    return EXIT_OK


def cmd_dlq(args: argparse.Namespace) -> int:
    """`claimline dlq list TOPIC`, `claimline dlq replay TOPIC --at P:OFFSET | --event-id ID`."""
    from claimline import dlq

    settings = _settings()
    try:
        letters = asyncio.run(dlq.read_dead_letters(settings, args.topic))
        if args.action == "list":
            for letter in letters:
                print(letter.summary())
            print(f"{len(letters)} dead letter(s) on {dlq.dead_letter_topic(settings, args.topic)}")
            return EXIT_OK
        if not args.at and not args.event_id:
            print("claimline dlq replay: give --at PARTITION:OFFSET or --event-id ID", file=sys.stderr)
            return EXIT_FAILED
        letter = dlq.find(letters, args.at, args.event_id)
        payload = dlq.corrected_payload(Path(args.payload)) if args.payload else None
        origin = asyncio.run(dlq.replay(settings, letter, payload))
    except (dlq.DeadLetterError, ValueError, OSError) as exc:
        print(f"claimline dlq {args.action}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    what = "its corrected payload" if payload is not None else "it"
    print(
        f"replayed the dead letter at {letter.position} (event {letter.event_id or '-'}): "
        f"published {what} to {origin}"
    )
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from claimline.demo import run_demo

    return run_demo(keep_running=not args.stop_after)


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="claimline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("stack", help="the native local Kafka and PostgreSQL")
    p.add_argument("action", choices=["up", "down", "status", "env"])
    p.set_defaults(func=cmd_stack)

    p = sub.add_parser("migrate", help="bring service schemas up to date (Alembic)")
    p.add_argument("services", nargs="*", choices=["ingest", "denials", "auths", "queues"])
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("run", help="run one service in the foreground")
    p.add_argument("service", choices=SERVICES)
    p.add_argument("--port", type=int, default=None, help="HTTP port for health (or the gateway API)")
    p.add_argument(
        "--workers", type=int, default=None, help="gateway processes (default CLAIMLINE_GATEWAY_WORKERS, 1)"
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("services", help="start, stop or check all services in the background")
    p.add_argument("action", choices=["up", "down", "status"])
    p.add_argument("--only", nargs="*", choices=SERVICES)
    p.set_defaults(func=cmd_services)

    p = sub.add_parser(
        "practices", help="the practice registry: which payee and rendering NPIs/TINs are whose"
    )
    p.add_argument("action", choices=["add", "list"])
    p.add_argument("practice_id", nargs="?")
    p.add_argument("--name")
    p.add_argument("--payee-npi", action="append", default=[])
    p.add_argument("--payee-tin", action="append", default=[])
    p.add_argument("--rendering-npi", action="append", default=[])
    p.add_argument("--inactive", action="store_true", help="keep the practice but route nothing to it")
    p.set_defaults(func=cmd_practices)

    p = sub.add_parser("users", help="create a gateway user and print its API token")
    p.add_argument("action", choices=["add"])
    p.add_argument("username")
    p.add_argument("--role", choices=["biller", "supervisor", "admin"], required=True)
    p.add_argument("--practice", action="append", default=[])
    p.add_argument("--provider", action="append", default=[])
    p.add_argument("--token", help="use this token instead of a random one")
    p.set_defaults(func=cmd_users)

    p = sub.add_parser("ingest", help="store, parse and publish 835 files")
    p.add_argument("files", nargs="+")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("parse", help="read X12 files without the stack; print JSON lines")
    p.add_argument("files", nargs="+")
    p.set_defaults(func=cmd_parse)

    p = sub.add_parser(
        "summary",
        help="totals of 835 files without the stack: payments, balancing, paid, adjustments by reason",
    )
    p.add_argument("files", nargs="+")
    p.add_argument(
        "--json", action="store_true", help="one JSON object per file, every transaction and reason"
    )
    p.add_argument("--reasons", type=int, default=10, help="adjustment reasons to list (default 10)")
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("queues", help="print the work queue the gateway shows a user")
    p.add_argument("--token")
    p.add_argument("--url", default=os.environ.get("CLAIMLINE_GATEWAY_URL", "http://127.0.0.1:8080"))
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=cmd_queues)

    p = sub.add_parser("auths", help="import authorizations exported from a payer portal (CSV)")
    p.add_argument("action", choices=["import"])
    p.add_argument("file")
    p.add_argument("--practice", required=True, help="the practice the authorizations belong to")
    p.add_argument("--payer-id", help="payer id for rows that do not name one")
    p.set_defaults(func=cmd_auths)

    p = sub.add_parser("scrub", help="check an 837P file offline against the pain coding rule pack")
    scrub_arguments(p)
    p.set_defaults(func=scrub_run)

    p = sub.add_parser("codes", help="what a CARC, RARC or group code means, or import the official lists")
    p.add_argument("kind", help="CARC, RARC, GROUP, or import")
    p.add_argument("code", nargs="?", help="the code (or, with import, carc or rarc)")
    p.add_argument("file", nargs="?", help="with import: the official list as CSV")
    p.set_defaults(func=cmd_codes)

    p = sub.add_parser(
        "dlq",
        help="list dead letters of a topic, or replay one to the topic it came from",
        description=(
            "Dead letters are messages a consumer could never process (not JSON, wrong schema or version, a "
            "practice that does not own what the message names, a rule that crashed); they wait on "
            "TOPIC.dlq with the reason. `list` prints one line per dead letter: PARTITION:OFFSET, the "
            "consumer, the origin topic[partition]@offset, the event id and the reason (payloads are never "
            "printed). `replay` publishes one dead letter again to its origin topic with its original key, "
            "once its cause is fixed; with --payload FILE it publishes that corrected JSON instead. "
            "Consumers skip events they already applied, so replaying twice changes nothing."
        ),
        epilog=(
            "examples: claimline dlq list remit.lines.v1; "
            "claimline dlq replay remit.lines.v1 --at 3:17; "
            "claimline dlq replay denials.decisions.v1 --event-id 0b7f…  --payload fixed.json"
        ),
    )
    p.add_argument("action", choices=["list", "replay"])
    p.add_argument(
        "topic", help="the origin topic (e.g. remit.lines.v1) or its .dlq; CLAIMLINE_TOPIC_PREFIX is added"
    )
    p.add_argument("--at", metavar="PARTITION:OFFSET", help="replay: the dead letter at this position")
    p.add_argument("--event-id", help="replay: the (latest) dead letter of this event")
    p.add_argument("--payload", metavar="FILE", help="replay: publish this corrected JSON instead")
    p.set_defaults(func=cmd_dlq)

    p = sub.add_parser("demo", help="start everything, ingest the sample files and show the queues")
    p.add_argument("--stop-after", action="store_true", help="stop services and stack when done")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
