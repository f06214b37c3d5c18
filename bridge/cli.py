"""The ``amo-bridge`` command line (typer + rich). Wiring and output only; no logic here."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from bridge.errors import BridgeError
from bridge.settings import Settings, StoreSettings, load_settings, load_store_settings

try:  # typer carries its own copy of click since 0.24; before, it used click itself
    from typer._click.exceptions import ClickException, NoArgsIsHelpError
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException, NoArgsIsHelpError  # type: ignore[assignment]

if TYPE_CHECKING:
    from bridge.accounts import FailedJob, StatusRow
    from bridge.container import Container

app = typer.Typer(
    name="amo-bridge",
    help="Bridge between messengers (Telegram) and amoCRM / Kommo through the Chats API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Piped output (scripts, logs) gets wide lines instead of tables folded at 80 columns.
out = Console() if Console().is_terminal else Console(width=200)
err = Console(stderr=True)
T = TypeVar("T")
# The shape of a Telegram bot token; anything else (a stray space, quotes) is refused up front.
BOT_TOKEN = re.compile(r"[0-9]+:[A-Za-z0-9_-]+")
CONFIG_ERROR = 2  # the interface's exit status for bad settings and bad input


def fail(message: str, code: int = 1) -> NoReturn:
    """Stop with one line on stderr: never wrapped (rich folds at 80 columns when stderr is
    not a terminal), never a secret."""
    from bridge.logging import redact

    sys.stderr.write(f"error: {' '.join(redact(message).split())}\n")
    raise typer.Exit(code)


def _secrets(settings: Settings) -> list[str]:
    values = [settings.channel_secret.get_secret_value()]
    if settings.secret_key:
        values.append(settings.secret_key.get_secret_value())
    if settings.admin_token:
        values.append(settings.admin_token.get_secret_value())
    return values


def _setup(require: tuple[str, ...] = ()) -> Settings:
    from bridge.logging import configure_logging

    settings = load_settings(require=require)
    configure_logging(settings.log_format, secrets=_secrets(settings))
    return settings


def _setup_reader() -> StoreSettings:
    """For commands that only read the database: no channel settings, no secrets needed."""
    from bridge.logging import configure_logging

    settings = load_store_settings()
    configure_logging(settings.log_format)
    return settings


def _run(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine; what goes wrong becomes one line: a database that cannot be opened
    exits 2 (configuration), a BridgeError 1."""
    from storage.db import DatabaseOpenError

    try:
        return asyncio.run(factory())  # type: ignore[arg-type]
    except DatabaseOpenError as error:
        fail(str(error), CONFIG_ERROR)
    except BridgeError as error:
        fail(str(error))
    except Exception as error:
        # Not a failure foreseen above (a bug to report): still one line, named by its type.
        fail(f"unexpected {type(error).__name__}: {error}")


def _container(settings: Settings) -> Container:
    from bridge.container import Container
    from storage.db import DatabaseOpenError

    try:
        return Container(settings)
    except DatabaseOpenError as error:
        fail(str(error), CONFIG_ERROR)


async def _open(container: Container) -> None:
    """Check that the database opens, then bring its schema up to date; DatabaseOpenError
    (one line) when either fails."""
    from sqlalchemy.exc import SQLAlchemyError

    from storage.db import DatabaseOpenError, open_error, probe
    from storage.migrate import DatabaseTooNewError

    await probe(container.engine)
    try:
        await container.migrate()
    except DatabaseTooNewError as error:
        raise DatabaseOpenError(str(error)) from None
    except (SQLAlchemyError, OSError) as error:
        raise open_error(container.engine.url, error) from None


async def _probe(url: str) -> None:
    from storage import create_engine
    from storage.db import probe

    engine = create_engine(url)
    try:
        await probe(engine)
    finally:
        await engine.dispose()


def _bot_token(value: str) -> str:
    if not BOT_TOKEN.fullmatch(value):
        # The value itself is not repeated: it may be a real token with a typo.
        raise typer.BadParameter(
            "not a Telegram bot token: expected <bot id>:<secret> as @BotFather gives it, "
            "without spaces or quotes"
        )
    from bridge.logging import register_secret

    register_secret(value)
    return value


BotToken = Annotated[
    str, typer.Option("--telegram-token", help="the bot's token", callback=_bot_token)
]


@app.command()
def serve() -> None:
    """Run the web app, the Telegram receivers and the delivery workers until SIGTERM/SIGINT."""
    import uvicorn

    from bridge.web.app import create_app
    from bridge.web.server import ensure_open_files, server_config
    from storage.db import DatabaseInUseError, DatabaseOpenError, lock_for_serving

    settings = _setup(require=("secret_key",))
    # Before anything touches the database: a second serve on the same SQLite file would
    # take the first one's jobs in flight for a dead worker's and run them again.
    try:
        lock = lock_for_serving(settings.database_url)
    except DatabaseOpenError as error:
        fail(str(error), 1 if isinstance(error, DatabaseInUseError) else CONFIG_ERROR)
    ensure_open_files(settings.http_max_connections)
    container = _container(settings)
    # Unreachable or unusable, the database is one line here rather than a traceback from
    # the app's start-up (where the schema is then brought up to date).
    _run(lambda: _probe(settings.database_url))
    server = uvicorn.Server(
        server_config(create_app(container, freeze_after_start=True), settings)
    )
    # uvicorn re-raises the signal it caught once it has shut down; with these handlers in
    # place that re-raise is a no-op, so a drained bridge exits 0 as promised.
    for handled in (signal.SIGTERM, signal.SIGINT):
        signal.signal(handled, lambda *_: None)
    server.run()
    if lock is not None:
        lock.close()  # only now: it is held for the whole life of the server
    if not server.started:
        raise typer.Exit(1)


@app.command()
def connect(
    account_id: Annotated[str, typer.Option("--account-id", help="the account's amojo_id")],
    telegram_token: BotToken,
    title: Annotated[str | None, typer.Option("--title", help="name shown in amoCRM")] = None,
) -> None:
    """Check the bot token, connect the channel to the account, store both; print the scope_id."""
    settings = _setup(require=("secret_key",))
    container = _container(settings)

    async def run() -> str:
        try:
            await _open(container)
            row = await container.accounts.connect(account_id, telegram_token, title)
            return row.scope_id
        finally:
            await container.close()

    scope_id = _run(run)
    err.print(f"connected account {account_id}", highlight=False, soft_wrap=True)
    out.print(scope_id, highlight=False, soft_wrap=True)


@app.command()
def disconnect(
    account_id: Annotated[str, typer.Option("--account-id", help="the account's amojo_id")],
) -> None:
    """Disconnect the channel from the account; its history is kept."""
    settings = _setup()
    container = _container(settings)

    async def run() -> None:
        try:
            await _open(container)
            await container.accounts.disconnect(account_id)
        finally:
            await container.close()

    _run(run)
    out.print(f"disconnected account {account_id}", highlight=False, soft_wrap=True)


async def _read_status(url: str) -> tuple[list[StatusRow], list[FailedJob]] | None:
    """The status tables, read without writing anything: None where there is no bridge
    database yet (a missing SQLite file is not created, a schema is not migrated)."""
    from bridge.accounts import connection_status, failed_jobs
    from storage import Store, create_engine
    from storage.db import DatabaseOpenError, probe, sqlite_file
    from storage.migrate import HEAD, current_revision

    path = sqlite_file(url)
    if path is not None and not path.exists():
        return None
    store = Store(create_engine(url))
    try:
        await probe(store.engine)
        revision = await current_revision(store.engine)
        if revision is None:
            return None
        if revision != HEAD:
            raise DatabaseOpenError(
                f"the database schema is at revision {revision}, this release reads {HEAD}: "
                "run amo-bridge serve of the release that matches it (serve migrates)"
            )
        return await connection_status(store), await failed_jobs(store)
    finally:
        await store.close()


@app.command()
def status() -> None:
    """One row per connection: account, scope, bot, mode, in/out, queued, failed, last error."""
    from storage.db import describe

    settings = _setup_reader()
    found = _run(lambda: _read_status(settings.database_url))
    if found is None:
        where = describe(settings.database_url)
        out.print(f"no connections yet (no bridge database at {where}): run amo-bridge connect")
        return
    rows, failed = found
    table = Table(title="amo-chat-bridge connections")
    for column in (
        "account",
        "scope",
        "bot",
        "mode",
        "state",
        "receiver",
        "in",
        "out",
        "queued",
        "failed",
        "last error",
    ):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            row.account_id,
            row.scope_id,
            row.bot,
            row.mode,
            row.state,
            row.receiver,
            str(row.messages_in),
            str(row.messages_out),
            str(row.queued),
            str(row.failed),
            row.last_error or "",
        )
    if not rows:
        out.print("no connections yet: run amo-bridge connect")
        return
    out.print(table)
    if failed:
        dead = Table(title="failed for good (replay with: amo-bridge retry --job-id N)")
        for column in ("job", "kind", "account", "attempts", "error"):
            dead.add_column(column, overflow="fold")
        for job in failed:
            dead.add_row(
                str(job.job_id), job.kind, job.account_id, str(job.attempts), job.last_error
            )
        out.print(dead)


@app.command()
def retry(
    account_id: Annotated[str | None, typer.Option("--account-id")] = None,
    job_id: Annotated[int | None, typer.Option("--job-id")] = None,
) -> None:
    """Replay jobs that failed for good (all, one account's, or one job)."""
    from storage.models import JobStatus

    settings = _setup()
    container = _container(settings)

    async def run() -> int:
        try:
            await _open(container)
            async with container.store.transaction() as uow:
                connection_id = None
                if account_id:
                    row = await uow.connections.by_account("telegram", account_id)
                    if row is None:
                        raise BridgeError(f"no connection for account {account_id}")
                    connection_id = row.id
                count = await uow.jobs.requeue_failed(connection_id=connection_id, job_id=job_id)
                if job_id is not None and count == 0:
                    # Nothing replayed for the one job asked for: say why, not "0 queued".
                    job = await uow.jobs.get(job_id)
                    if job is None:
                        raise BridgeError(f"no job {job_id}")
                    if job.status != JobStatus.FAILED or job.kind == "rejected_update":
                        raise BridgeError(
                            f"job {job_id} has not failed for good: nothing to retry"
                        )
                    raise BridgeError(f"job {job_id} is not account {account_id}'s")
                return count
        finally:
            await container.close()

    count = _run(run)
    out.print(f"{count} job(s) queued again; a running bridge picks them up")


@app.command()
def keygen() -> None:
    """Print a new BRIDGE_SECRET_KEY (a Fernet key)."""
    from bridge.crypto import generate_key

    out.print(generate_key(), highlight=False)


@app.command()
def sandbox(
    messages: Annotated[int, typer.Option(help="customer messages to play")] = 2,
    keep_database: Annotated[
        Path | None,
        typer.Option("--keep-database", help="keep the SQLite file here (default: a temp dir)"),
    ] = None,
) -> None:
    """Run the whole bridge against bundled emulators on loopback and play a conversation."""
    from bridge.sandbox.harness import run_sandbox

    database = keep_database.resolve() if keep_database else None
    code = asyncio.run(run_sandbox(out, messages=messages, database=database))
    raise typer.Exit(code)


def main() -> None:
    """Run the command line; a usage error is one line too (typer would draw a box)."""
    try:
        code = app(standalone_mode=False)
    except NoArgsIsHelpError as error:
        error.show()  # the help asked for by running without arguments
        sys.exit(error.exit_code)
    except ClickException as error:
        sys.stderr.write(f"error: {' '.join(error.format_message().split())}\n")
        sys.exit(error.exit_code)
    except typer.Abort:
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
