"""The ``callcenter`` command line: serve, migrate, users, import, demo, ami-sim.

This module is a composition root (like ``web.app.create_app``): it is the one place in
the package that reads settings and reaches the adapters, so it may import ``config``,
``web`` and ``ami``; nothing else in ``callcenter`` does.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass
import logging
import sys
from collections.abc import Sequence

logger = logging.getLogger(__name__)

ROLE_NAMES = ("manager", "supervisor", "head", "admin")


def _settings():  # type: ignore[no-untyped-def]
    from config.settings import load_settings

    return load_settings()


def _database_url(settings) -> str:  # type: ignore[no-untyped-def]
    from config.database import start_embedded

    return settings.database_url or start_embedded(settings.data_dir)


def cmd_serve(args: argparse.Namespace) -> int:
    import dataclasses

    from aiohttp import web

    from config.database import stop_embedded
    from web.app import create_app

    settings = _settings()
    overrides = {}
    if args.host:
        overrides["http_host"] = args.host
    if args.port:
        overrides["http_port"] = args.port
    if getattr(args, "traffic", None) is not None:
        overrides["sim_traffic_calls_per_minute"] = args.traffic
    settings = dataclasses.replace(settings, **overrides)
    logger.info("starting with settings %s", settings.redacted())

    url = _database_url(settings)
    if getattr(args, "demo", False):
        asyncio.run(_seed_demo(url))

    app = create_app(settings, database_url=url)
    print(
        f"Панель: http://{settings.http_host}:{settings.http_port}/  (Ctrl+C — остановить)",
        flush=True,
    )
    try:
        web.run_app(
            app,
            host=settings.http_host,
            port=settings.http_port,
            print=None,
            access_log=None,
            shutdown_timeout=10,
        )
    finally:
        if not settings.database_url:
            stop_embedded(settings.data_dir)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from callcenter.migrate import upgrade

    upgrade(_database_url(_settings()), args.revision)
    print("Database schema is up to date.")
    return 0


async def _with_users(url: str, action):  # type: ignore[no-untyped-def]
    from callcenter.db import create_engine, create_session_factory
    from callcenter.migrate import upgrade_async
    from callcenter.users.service import UserService

    await upgrade_async(url)
    engine = create_engine(url, pool_size=2)
    try:
        users = UserService(
            create_session_factory(engine), session_max_age=dt.timedelta(hours=1)
        )
        return await action(users)
    finally:
        await engine.dispose()


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if args.password:
        return str(args.password)
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        raise SystemExit("passwords differ")
    return first


def cmd_users(args: argparse.Namespace) -> int:
    from callcenter.users.errors import UserError
    from callcenter.users.models import Role

    url = _database_url(_settings())
    try:
        if args.users_command == "add":
            password = _read_password(args)
            user = asyncio.run(
                _with_users(
                    url,
                    lambda users: users.create_user(
                        login=args.login,
                        full_name=args.name,
                        role=Role(args.role),
                        password=password,
                        extensions=tuple(args.extension or ()),
                        language=args.language,
                    ),
                )
            )
            print(f"User {user.login} (id {user.id}, {user.role}) created.")
        elif args.users_command == "list":
            for user in asyncio.run(_with_users(url, lambda users: users.list_users())):
                extensions = ",".join(user.extensions) or "-"
                print(
                    f"{user.id}\t{user.login}\t{user.role}\t{extensions}\t{user.full_name}"
                )
        elif args.users_command == "password":
            password = _read_password(args)
            asyncio.run(
                _with_users(url, lambda users: users.set_password(args.login, password))
            )
            print("Password changed.")
        elif args.users_command == "team":
            supervisor = None if args.supervisor == "-" else args.supervisor
            asyncio.run(
                _with_users(
                    url, lambda users: users.set_supervisor(args.login, supervisor)
                )
            )
            print("Team changed.")
        elif args.users_command == "token":
            token = asyncio.run(
                _with_users(
                    url, lambda users: users.issue_api_token(args.login, args.name)
                )
            )
            print(token)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


DEMO_PASSWORD = "demo12345"
DEMO_USERS = (
    ("manager", "Анна Смирнова", "manager", ("101",)),
    ("manager2", "Борис Кузнецов", "manager", ("102",)),
    ("supervisor", "Ольга Иванова", "supervisor", ("103",)),
    ("head", "Сергей Попов", "head", ()),
    ("admin", "Администратор", "admin", ()),
)
# name, INN, contact, position, phone, responsible (login), equipment model
DEMO_CLIENTS = (
    (
        "ООО «Ромашка»",
        "7707083893",
        "Петров Иван Сергеевич",
        "Главный инженер",
        "+7 (916) 123-45-67",
        "manager",
        ("IP-АТС", "Panasonic", "KX-TDE100"),
    ),
    (
        "АО «Север-Трейд»",
        "7736050003",
        "Соколова Мария Андреевна",
        "Закупки",
        "8 (495) 111-22-33",
        "manager",
        ("IP-телефон", "Yealink", "T46U"),
    ),
    (
        "ИП Васильев",
        "",
        "Васильев Олег",
        "Владелец",
        "+7 916 123-45-60",
        "manager",
        None,
    ),
    (
        "ООО «Вектор»",
        "5001007329",
        "Кузьмин Олег Петрович",
        "Директор",
        "+7 (812) 765-43-21",
        "manager2",
        ("Шлюз", "Grandstream", "GXW4216"),
    ),
)


async def _seed_demo(url: str) -> None:
    """Demo users (the managers in the supervisor's team) and clients, created the
    way the panel creates them; safe to run again (existing ones are kept)."""
    from sqlalchemy import select

    from callcenter.clients.models import Company
    from callcenter.clients.service import ClientService
    from callcenter.db import create_engine, create_session_factory
    from callcenter.users.models import Role

    async def add_users(users):  # type: ignore[no-untyped-def]
        views, created = {}, []
        for login, name, role, extensions in DEMO_USERS:
            existing = await users.find_user_by_login(login)
            if existing is None:
                existing = await users.create_user(
                    login=login,
                    full_name=name,
                    role=Role(role),
                    password=DEMO_PASSWORD,
                    extensions=extensions,
                )
                created.append(existing)
            views[login] = existing
        for user in created:
            if user.role is Role.MANAGER:  # Ольга's team
                await users.set_supervisor(user.login, "supervisor")
        return views

    users = await _with_users(url, add_users)
    engine = create_engine(url, pool_size=2)
    try:
        sessions = create_session_factory(engine)
        clients = ClientService(sessions)
        for name, inn, person, position, phone, owner, item in DEMO_CLIENTS:
            async with sessions() as session:
                if await session.scalar(select(Company.id).where(Company.name == name)):
                    continue
            last, first, *middle = person.split()
            company_id = await clients.create_company(
                {
                    "name": name,
                    "inn": inn,
                    "contacts": [
                        {
                            "last_name": last,
                            "first_name": first,
                            "middle_name": " ".join(middle),
                            "position": position,
                            "phones": [phone],
                        }
                    ],
                },
                user=users[owner],
                force=True,
            )
            if item is not None:
                kind, vendor, model = item
                await clients.add_equipment(
                    company_id,
                    {"kind": kind, "vendor": vendor, "model": model},
                    user=users[owner],
                )
    finally:
        await engine.dispose()
    print(f"Демо-пользователи (пароль для всех: {DEMO_PASSWORD}):")
    for login, name, role, extensions in DEMO_USERS:
        print(f"  {login:<11} {role:<10} {name}  {', '.join(extensions)}")


def cmd_demo(args: argparse.Namespace) -> int:
    args.demo = True
    return cmd_serve(args)


IMPORT_LABELS = {
    "created": "создано",
    "updated": "дополнено",
    "skipped": "пропущено (уже есть)",
    "duplicate": "дубли (клиент другого менеджера)",
    "rejected": "отклонено",
}


IMPORT_ROW_LABELS = {
    "created": "создано",
    "updated": "дополнено",
    "skipped": "пропущено",
    "duplicate": "дубль",
    "rejected": "отклонено",
}


async def _import_file(args: argparse.Namespace, url: str, region: str) -> int:
    """Read, map and import one file, printing progress to stderr and the report."""
    from pathlib import Path

    from callcenter.clients.service import ClientService
    from callcenter.db import create_engine, create_session_factory
    from callcenter.imports.errors import ImportProblem
    from callcenter.imports.service import ImportService
    from callcenter.migrate import upgrade_async
    from callcenter.users.models import Role
    from callcenter.users.service import UserService

    await upgrade_async(url)
    engine = create_engine(url, pool_size=2)
    try:
        sessions = create_session_factory(engine)
        users = UserService(sessions, session_max_age=dt.timedelta(hours=1))
        if args.user:
            user = await users.find_user_by_login(args.user)
            if user is None:
                print(f"error: no user {args.user!r}", file=sys.stderr)
                return 2
        else:
            # Without --user the import runs as the first admin: it sees the whole
            # base, and the companies it creates are assigned to them.
            admins = [u for u in await users.list_users() if u.role is Role.ADMIN]
            if not admins:
                print("error: no admin user; pass --user LOGIN", file=sys.stderr)
                return 2
            user = admins[0]

        service = ImportService(
            sessions, ClientService(sessions, region=region), region=region
        )
        path = Path(args.file)
        try:
            data = await asyncio.to_thread(path.read_bytes)
            sheet = await service.read(data, path.name, args.format)
            mapping = sheet.suggested_mapping()
            if args.preset:
                preset = await service.find_preset(name=args.preset)
                mapping = dict(preset["mapping"])
            mode = "проверка (ничего не меняется)" if args.dry_run else "импорт"
            print(
                f"{path.name}: {sheet.format}, строк: {len(sheet.rows)}; {mode}; "
                f"пользователь: {user.login}",
                file=sys.stderr,
            )
            for header in sheet.headers:
                print(f"  {header} -> {mapping.get(header, '-')}", file=sys.stderr)

            def progress(done: int, total: int) -> None:
                print(f"\r  {done}/{total} строк", end="", file=sys.stderr, flush=True)

            summary = await service.run(
                sheet,
                mapping,
                user=user,
                file_name=path.name,
                dry_run=args.dry_run,
                progress=progress,
            )
        except OSError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        except ImportProblem as error:
            print(f"error: {error.reason}", file=sys.stderr)
            return 2
    finally:
        await engine.dispose()

    print("", file=sys.stderr)
    for entry in summary.report:
        if entry["status"] in ("rejected", "duplicate") or args.verbose:
            who = " / ".join(p for p in (entry["company"], entry["contact"]) if p)
            status = IMPORT_ROW_LABELS[entry["status"]]
            print(f"строка {entry['line']}: {status}: {who}: {entry['reason']}")
    print(f"Итого (запуск {summary.run_id}):")
    for status, label in IMPORT_LABELS.items():
        print(f"  {label}: {summary.counts.get(status, 0)}")
    return 1 if summary.counts.get("rejected") else 0


def cmd_import(args: argparse.Namespace) -> int:
    settings = _settings()
    url = _database_url(settings)
    return asyncio.run(_import_file(args, url, settings.phone_region))


def cmd_ami_sim(args: argparse.Namespace, rest: Sequence[str]) -> int:
    from ami.simulator.cli import main as simulator_main

    return int(simulator_main(list(rest)) or 0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callcenter", description="Call-center CRM")
    parser.add_argument("--log-level", default="INFO")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve", help="run the panel, API, websockets and AMI link"
    )
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--traffic", type=float, help="simulator: random calls per minute"
    )

    demo = commands.add_parser(
        "demo", help="serve with demo users, clients and simulator"
    )
    demo.add_argument("--host")
    demo.add_argument("--port", type=int)
    demo.add_argument("--traffic", type=float, default=0.0)

    migrate = commands.add_parser("migrate", help="apply database migrations")
    migrate.add_argument("--revision", default="head")

    commands.add_parser(
        "ami-sim", help="run the AMI simulator (see: callcenter ami-sim -h)"
    )

    users = commands.add_parser("users", help="manage users and API tokens")
    users_commands = users.add_subparsers(dest="users_command", required=True)
    add = users_commands.add_parser("add", help="add a user")
    add.add_argument("login")
    add.add_argument("--name", required=True, help="full name")
    add.add_argument("--role", choices=ROLE_NAMES, default="manager")
    add.add_argument(
        "--extension", action="append", help="phone extension (repeatable)"
    )
    add.add_argument("--language", choices=("ru", "en"), default="ru")
    for sub in (
        add,
        users_commands.add_parser("password", help="set a user's password"),
    ):
        if sub is not add:
            sub.add_argument("login")
        sub.add_argument(
            "--password", help="(visible in the process list; prefer a prompt)"
        )
        sub.add_argument("--password-stdin", action="store_true")
    users_commands.add_parser("list", help="list users")
    team = users_commands.add_parser(
        "team", help="put a manager in a supervisor's team ('-': in none)"
    )
    team.add_argument("login")
    team.add_argument("supervisor")

    imports = commands.add_parser(
        "import", help="import clients from Excel, CSV, Outlook, vCard or 1C"
    )
    imports.add_argument("file")
    imports.add_argument(
        "--format",
        choices=("auto", "xlsx", "csv", "outlook", "vcf", "commerceml", "1c-xlsx"),
        default="auto",
    )
    imports.add_argument("--preset", help="a saved column mapping (its name)")
    imports.add_argument(
        "--dry-run",
        action="store_true",
        help="report what would happen, change nothing",
    )
    imports.add_argument(
        "--user", help="import as this user (default: the first admin)"
    )
    imports.add_argument(
        "--verbose", action="store_true", help="print every row, not only problems"
    )
    token = users_commands.add_parser("token", help="issue an API token for a user")
    token.add_argument("login")
    token.add_argument("--name", default="integration")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from config.logging import setup_logging
    from config.settings import SettingsError

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["ami-sim"]:
        setup_logging()
        return cmd_ami_sim(argparse.Namespace(), argv[1:])

    args = build_parser().parse_args(argv)
    setup_logging(args.log_level)
    handlers = {
        "serve": cmd_serve,
        "demo": cmd_demo,
        "migrate": cmd_migrate,
        "users": cmd_users,
        "import": cmd_import,
    }
    try:
        return handlers[args.command](args)
    except SettingsError as error:
        print(f"settings error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
