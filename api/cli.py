"""Command line: `python -m api COMMAND` (Typer). Each command fails with one clear line and exit 1."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from sqlalchemy import func
from sqlmodel import Session, select

from api.db import make_engine
from api.errors import InputError
from api.frameworks.loader import FrameworkFileError, load_framework_file
from api.settings import get_settings

if TYPE_CHECKING:
    from api.demo import DemoSignIn

app = typer.Typer(
    help="Race equality board self-assessment: administration commands.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
framework_app = typer.Typer(help="Check and load questionnaire frameworks.", no_args_is_help=True)
app.add_typer(framework_app, name="framework")


# What a scheduled command says when another instance is running it at the same moment (exit 0).
ANOTHER_RUN = "Another instance is running {command} now: nothing to do here."


def fail(message: str) -> NoReturn:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code=1)


@contextmanager
def database() -> Iterator[Session]:
    """One transaction: committed if the command succeeds, rolled back on any error."""
    engine = make_engine(get_settings().database_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
    finally:
        engine.dispose()


def _parse_date(value: str, option: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        fail(f"{option} {value!r} is not a date written like 2026-04-01")


def _read_password(email: str) -> str:
    if sys.stdin is not None and not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            fail("no password on standard input")
        return password
    return typer.prompt(f"Password for {email}", hide_input=True, confirmation_prompt=True)


@app.command("create-user")
def create_user_command(
    email: Annotated[str, typer.Argument(help="The person's email address, used to sign in")],
    role: Annotated[
        str,
        typer.Option(help="chair, board_member, board_secretary, sector_analyst or platform_admin"),
    ],
    organisation: Annotated[str | None, typer.Option(help="ODS code of the trust (for trust roles)")] = None,
    name: Annotated[str | None, typer.Option(help="Full name")] = None,
    board_role: Annotated[
        str | None,
        typer.Option(help="ned, executive, chief_executive, chair, secretary or other"),
    ] = None,
) -> None:
    """Create a user. The password is read from standard input, or prompted for: never an argument."""
    from api.accounts.service import create_user

    person = {
        "email": email,
        "role": role,
        "organisation_code": organisation,
        "name": name,
        "board_role": board_role,
    }
    try:
        with database() as session:
            # Check everything but the password first, so nobody types a password for nothing.
            create_user(session, password=None, **person)
            session.rollback()
        password = _read_password(email)
        with database() as session:
            user = create_user(session, password=password, **person)
    except InputError as exc:
        fail(str(exc))
    where = f" at {organisation.upper()}" if organisation else ""
    typer.echo(f"Created {user.email} as {role}{where}")


@app.command("import-organisations")
def import_organisations_command(
    file: Annotated[Path, typer.Argument(help="CSV with ods_code,name,trust_type,region[,size_band]")],
) -> None:
    """Import or refresh NHS trusts from a CSV. A bad row imports nothing."""
    from api.organisations.service import (
        import_organisations,
        parse_organisations_csv,
        read_csv_file,
    )

    try:
        rows = parse_organisations_csv(read_csv_file(file))
    except InputError as exc:
        lines = str(exc).splitlines()
        for line in lines[1:]:
            typer.echo(f"  {line}", err=True)
        fail(
            f"{file}: {lines[0]}"
            + (f" (and {len(lines) - 1} more bad rows, listed above)" if len(lines) > 1 else "")
            + "; nothing imported"
        )
    with database() as session:
        result = import_organisations(session, rows)
    typer.echo(f"Imported {len(rows)} organisations ({result.added} new, {result.updated} updated)")


@framework_app.command("check")
def framework_check_command(
    file: Annotated[Path, typer.Argument(help="A framework YAML file")],
) -> None:
    """Validate a framework file and print each error with its path in the file."""
    try:
        doc = load_framework_file(file)
    except FrameworkFileError as exc:
        for error in exc.errors:
            typer.echo(f"{exc.path}: {error}", err=True)
        plural = "s" if len(exc.errors) != 1 else ""
        fail(f"{file} is not a valid framework ({len(exc.errors)} problem{plural})")
    criteria = sum(len(s.criteria) for s in doc.sections)
    typer.echo(
        f"{file}: framework {doc.key} version {doc.version} is valid: "
        f"{len(doc.sections)} sections, {criteria} criteria"
    )


@framework_app.command("load")
def framework_load_command() -> None:
    """Load every framework file in assessments/ (a changed version is refused)."""
    from api.frameworks.service import sync_frameworks

    try:
        with database() as session:
            frameworks = sync_frameworks(session, get_settings().frameworks_dir)
    except FrameworkFileError as exc:
        fail(str(exc))
    typer.echo("Loaded " + ", ".join(f.key for f in frameworks))


@framework_app.command("diff")
def framework_diff_command(
    earlier: Annotated[str, typer.Argument(help="The earlier framework: v1, its key, or a file")],
    current: Annotated[str, typer.Argument(help="The later framework: v2, its key, or a file")],
) -> None:
    """Print what changed, criterion by criterion, for the release note to boards."""
    from api.frameworks.lineage import diff_files, resolve_framework_file

    directory = get_settings().frameworks_dir
    try:
        typer.echo(
            diff_files(resolve_framework_file(earlier, directory), resolve_framework_file(current, directory))
        )
    except FrameworkFileError as exc:
        fail(str(exc))


@app.command("open-cycle")
def open_cycle_command(
    name: Annotated[str, typer.Argument(help="The financial year, like 2026/27")],
    opens: Annotated[str, typer.Option(help="First day, like 2026-04-01")],
    closes: Annotated[str, typer.Option(help="Last day, like 2027-03-31")],
    framework: Annotated[str | None, typer.Option(help="Framework key (default: the newest)")] = None,
) -> None:
    """Open a yearly assessment cycle."""
    from api.assessments.cycles import open_cycle

    opens_on = _parse_date(opens, "--opens")
    closes_on = _parse_date(closes, "--closes")
    try:
        with database() as session:
            cycle = open_cycle(session, name, opens_on=opens_on, closes_on=closes_on, framework_key=framework)
    except InputError as exc:
        fail(str(exc))
    typer.echo(f"Opened cycle {cycle.name}: {cycle.opens_on} to {cycle.closes_on}")


def _print_sign_ins(sign_ins: list[DemoSignIn]) -> None:
    from api.demo import DEMO_PASSWORD

    typer.echo("")
    typer.echo(f"Demo sign-ins (the password for each is {DEMO_PASSWORD}):")
    for sign_in in sign_ins:
        trusts = " and ".join(t for t in (sign_in.trust_name, sign_in.other_trust_name) if t)
        typer.echo(f"  {sign_in.email:<28} {sign_in.can_see}" + (f" ({trusts})" if trusts else ""))
    typer.echo("")


@app.command("purge-expired")
def purge_expired_command() -> None:
    """Delete expired browser sessions, API tokens, emailed links and old sign-in attempts (daily).
    Safe to run on every instance at once: one run does the work (api/scheduling.py)."""
    from api.accounts.sessions import purge_expired
    from api.reports.cache import purge_rendered
    from api.scheduling import run_once

    with database() as session:
        if not run_once(session, "purge-expired"):
            typer.echo(ANOTHER_RUN.format(command="purge-expired"))
            return
        purged = purge_expired(session)
        rendered = purge_rendered(session)
    typer.echo(
        f"Deleted {purged.web_sessions} expired browser sessions, {purged.api_tokens} API tokens "
        f"and {purged.one_time_tokens} emailed links, and {purged.sign_in_attempts} sign-in attempts "
        "older than a day"
    )
    typer.echo(f"Deleted {rendered} board reports and workbooks kept for more than a week")


@app.command("apply-retention")
def apply_retention_command() -> None:
    """Apply the retention policy (docs/data-protection.md): anonymise long-closed accounts and delete
    members' own ratings of old cycles, keeping the agreed ratings and scores (daily; safe to repeat)."""
    from api.data_protection.service import apply_retention

    settings = get_settings()
    with database() as session:
        done = apply_retention(
            session,
            closed_account_days=settings.retention_closed_account_days,
            rating_years=settings.retention_individual_ratings_years,
            k=settings.k_anonymity,
        )
    typer.echo(
        f"Anonymised {done.accounts_anonymised} accounts closed more than "
        f"{settings.retention_closed_account_days} days ago. Deleted {done.ratings_deleted} members' own "
        f"ratings, {done.headline_answers_deleted} headline answers and {done.board_lists_deleted} "
        f"board-at-opening entries from {done.cycles_past_retention} cycles that closed more than "
        f"{settings.retention_individual_ratings_years} years ago; agreed ratings and scores kept"
    )


@app.command("send-reminders")
def send_reminders_command() -> None:
    """Email members who have not finished rating 14, 7 and 2 days before rating closes, and the chair
    once the board is ready to agree (daily). Each reminder goes once, however many machines run it."""
    from api.mail import deliver
    from api.reminders.service import send_due_reminders

    settings = get_settings()
    # Written to the outbox in the command's transaction; sent here once it has committed, not from
    # a background thread the command would not wait for.
    with database() as session:
        sent = send_due_reminders(session, settings.model_copy(update={"smtp_host": None}))
    if settings.smtp_host and sent.email_ids:
        engine = make_engine(settings.database_url)
        try:
            deliver(engine, settings, sent.email_ids)
        finally:
            engine.dispose()
    typer.echo(
        f"Sent {sent.to_members} reminders to members who have not finished rating and "
        f"{sent.to_chairs} to chairs whose board is ready to agree its ratings"
    )


@app.command("seed-demo")
def seed_demo_command(
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same sector")] = 2026,
) -> None:
    """Fill an empty database with a realistic demo sector (every trust, three cycles)."""
    from api.demo import seed_demo

    try:
        with database() as session:
            settings = get_settings()
            result = seed_demo(
                session, seed=seed, frameworks_dir=settings.frameworks_dir, k_anonymity=settings.k_anonymity
            )
    except (InputError, FrameworkFileError) as exc:
        fail(str(exc))
    typer.echo(result.summary)
    _print_sign_ins(result.sign_ins)


@app.command("bootstrap")
def bootstrap_command(
    demo: Annotated[bool, typer.Option(help="Load the demo sector into an empty database")] = True,
) -> None:
    """Migrate the database, load framework files, and seed the demo sector if it is empty."""
    from api.demo import demo_sign_ins, seed_demo
    from api.frameworks.service import sync_frameworks
    from api.migrate import upgrade
    from api.organisations.models import Organisation

    settings = get_settings()
    upgrade(settings.database_url)
    try:
        with database() as session:
            empty = session.exec(select(func.count()).select_from(Organisation)).one() == 0
            if empty and demo:
                typer.echo("Empty database: loading the demo sector (takes a few seconds)...")
                result = seed_demo(
                    session, frameworks_dir=settings.frameworks_dir, k_anonymity=settings.k_anonymity
                )
                typer.echo(result.summary)
            else:
                sync_frameworks(session, settings.frameworks_dir)
        with database() as session:
            sign_ins = demo_sign_ins(session)
    except (InputError, FrameworkFileError) as exc:
        fail(str(exc))
    if sign_ins:
        _print_sign_ins(sign_ins)


@app.command("backup")
def backup_command(
    file: Annotated[Path, typer.Argument(help="The backup file to write (it must not exist yet)")],
) -> None:
    """Back up the database to FILE (SQLite: its online backup; PostgreSQL: pg_dump, custom format)."""
    from api.backup import BackupError, backup

    settings = get_settings()
    try:
        backup(settings.database_url, file)
    except BackupError as exc:
        fail(str(exc))
    typer.echo(f"Backed up the database, evidence files included, to {file} ({file.stat().st_size:,} bytes)")


@app.command("restore")
def restore_command(
    file: Annotated[Path, typer.Argument(help="A file written by `python -m api backup`")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Delete everything in a database that is not empty first")
    ] = False,
) -> None:
    """Restore the database from FILE into an empty database (stop the service first)."""
    from api.backup import BackupError, restore

    settings = get_settings()
    try:
        result = restore(settings.database_url, file, replace=replace)
    except BackupError as exc:
        fail(str(exc))
    typer.echo(f"Restored the database from {file} (migration revision {result.revision or 'none'}).")
    typer.echo("Run `python -m api bootstrap --no-demo` to apply any newer migrations.")


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[
        int, typer.Option(envvar="WEB_CONCURRENCY", help="Worker processes (or WEB_CONCURRENCY)")
    ] = 1,
) -> None:
    """Serve the application with uvicorn (httptools, uvloop). X-Forwarded-For and
    X-Forwarded-Proto are believed only from the proxies in TRUSTED_PROXIES: the one setting for
    the service and for uvicorn."""
    import uvicorn

    from api.observability import configure_logging

    settings = get_settings()
    configure_logging(settings)
    uvicorn.run(
        "api.asgi:app",
        host=host,
        port=port,
        workers=workers,
        http="httptools",
        loop="uvloop",
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies),
        server_header=False,
        # Our own request line names the route's template; uvicorn's would write raw paths, whose
        # tokens and query strings have no place in a log.
        access_log=False,
        log_config=None,
    )
