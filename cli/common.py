"""What every `wujiang` sub-command shares: running one unit of work, and a progress bar."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from core.errors import DomainError
from core.settings import get_settings

console = Console()
T = TypeVar("T")


def run_with_database(work: Callable[[Database], Awaitable[T]]) -> T:
    """Run `work` against the configured database; a domain refusal ends the command with 2."""

    async def main() -> T:
        database = Database(get_settings())
        try:
            return await work(database)
        except DomainError as error:
            console.print(f"[red]{error.title}:[/red] {error.detail}", soft_wrap=True)
            raise typer.Exit(2) from error
        finally:
            await database.dispose()

    return asyncio.run(main())


def run_in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one unit of work: committed if it returns, rolled back if it raises."""

    async def in_unit_of_work(database: Database) -> T:
        async with database.unit_of_work() as session:
            return await work(session)

    return run_with_database(in_unit_of_work)


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A transient bar; the yielded callback takes (done, total)."""
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield advance
