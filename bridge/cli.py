"""The ``amo-bridge`` command line (typer + rich). Wiring and output only; no logic here."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from bridge.errors import BridgeError
from bridge.settings import Settings, load_settings

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


def _run(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine; a BridgeError becomes one readable line and exit status 1."""
    try:
        return asyncio.run(factory())  # type: ignore[arg-type]
    except BridgeError as error:
        err.print(f"[red]error:[/red] {error}", highlight=False)
        raise typer.Exit(1) from None


@app.command()
def serve() -> None:
    """Run the web app, the Telegram receivers and the delivery workers until SIGTERM/SIGINT."""
    import uvicorn

    from bridge.container import Container
    from bridge.web.app import create_app
    from bridge.web.server import ensure_open_files, server_config

    settings = _setup(require=("secret_key",))
    ensure_open_files(settings.http_max_connections)
    container = Container(settings)
    server = uvicorn.Server(
        server_config(create_app(container, freeze_after_start=True), settings)
    )
    # uvicorn re-raises the signal it caught once it has shut down; with these handlers in
    # place that re-raise is a no-op, so a drained bridge exits 0 as promised.
    for handled in (signal.SIGTERM, signal.SIGINT):
        signal.signal(handled, lambda *_: None)
    server.run()
    if not server.started:
        raise typer.Exit(1)


@app.command()
def connect(
    account_id: Annotated[str, typer.Option("--account-id", help="the account's amojo_id")],
    telegram_token: Annotated[str, typer.Option("--telegram-token", help="the bot's token")],
    title: Annotated[str | None, typer.Option("--title", help="name shown in amoCRM")] = None,
) -> None:
    """Check the bot token, connect the channel to the account, store both; print the scope_id."""
    from bridge.container import Container

    settings = _setup(require=("secret_key",))

    async def run() -> str:
        container = Container(settings)
        try:
            await container.migrate()
            row = await container.accounts.connect(account_id, telegram_token, title)
            return row.scope_id
        finally:
            await container.close()

    scope_id = _run(run)
    err.print(f"connected account {account_id}", highlight=False)
    out.print(scope_id, highlight=False, soft_wrap=True)


@app.command()
def disconnect(
    account_id: Annotated[str, typer.Option("--account-id", help="the account's amojo_id")],
) -> None:
    """Disconnect the channel from the account; its history is kept."""
    from bridge.container import Container

    settings = _setup()

    async def run() -> None:
        container = Container(settings)
        try:
            await container.migrate()
            await container.accounts.disconnect(account_id)
        finally:
            await container.close()

    _run(run)
    out.print(f"disconnected account {account_id}", highlight=False)


@app.command()
def status() -> None:
    """One row per connection: account, scope, bot, mode, in/out, queued, failed, last error."""
    from bridge.accounts import FailedJob, StatusRow
    from bridge.container import Container

    settings = _setup()

    async def run() -> tuple[list[StatusRow], list[FailedJob]]:
        container = Container(settings)
        try:
            await container.migrate()
            return await container.accounts.status(), await container.accounts.failed_jobs()
        finally:
            await container.close()

    rows, failed = _run(run)
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
    from bridge.container import Container

    settings = _setup()

    async def run() -> int:
        container = Container(settings)
        try:
            await container.migrate()
            async with container.store.transaction() as uow:
                connection_id = None
                if account_id:
                    row = await uow.connections.by_account("telegram", account_id)
                    if row is None:
                        raise BridgeError(f"no connection for account {account_id}")
                    connection_id = row.id
                return await uow.jobs.requeue_failed(connection_id=connection_id, job_id=job_id)
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
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
