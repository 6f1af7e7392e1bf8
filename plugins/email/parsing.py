"""Mail parsed in worker processes, away from the hub's event loop.

Parsing is the email channel's one heavy computation (about a millisecond for a plain mail,
far more for a large HTML mail in GB18030). In a worker process it runs on another core
while the loop stores the batch before, and a mail that would make the parser spin or run
out of memory costs a worker, not the hub: past ``parse_seconds`` the workers are killed
and replaced, the batch is parsed again one mail at a time, and the mail that still does not
finish counts as a failed try (after ``parse_attempts`` it is quarantined).

One pool serves every account and channel of the process; it starts with the first mail.
``parse_workers = 0`` parses on the event loop instead, without that protection.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import multiprocessing.connection
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from plugins.email.parse import MailParseError, ParsedMail, parse

log = logging.getLogger("contacthub.channel.email")
Result = ParsedMail | Exception
"""A parsed mail, or why it could not be: ``MailParseError`` (not mail at all, no retry
helps) or ``ParseFailed`` (the parser broke or took too long: worth another try)."""

# Per mail, on top of parse_seconds for the batch: what a slow but honest mail may take.
_PER_MAIL_SECONDS = 0.25


class ParseFailed(Exception):
    """The parser raised, ran past its time or lost its worker on this mail."""


class Parser:
    """Parses the mails of a batch together; each result in the order of the input."""

    def __init__(self, workers: int, seconds: float,
                 parse_one: Callable[[bytes], ParsedMail] | None = None) -> None:
        self.workers = workers
        self.seconds = seconds
        self.parse_one = parse_one
        """A module-level function (the workers import it by name); ``parse`` unless a test
        swaps in a hostile one."""

    async def parse_all(self, raws: Sequence[bytes]) -> list[Result]:
        if not raws:
            return []
        if self.workers == 0:
            return _parse_each(list(raws), self.parse_one or parse)
        deadline = self.seconds + _PER_MAIL_SECONDS * len(raws)
        try:
            return await self._in_worker(list(raws), deadline)
        except (TimeoutError, BrokenProcessPool) as err:
            what = "took too long" if isinstance(err, TimeoutError) else "lost its worker"
            log.warning("email: parsing a batch of %d %s; parsing them one by one", len(raws), what)
        results: list[Result] = []
        for raw in raws:
            try:
                results += await self._in_worker([raw], self.seconds)
            except TimeoutError:
                results.append(ParseFailed(f"parsing took over {self.seconds:g} s"))
            except BrokenProcessPool:
                results.append(ParseFailed("the parser's worker process died on this mail"))
        return results

    async def _in_worker(self, raws: list[bytes], deadline: float) -> list[Result]:
        pool = _pools.get(self.workers)
        job = asyncio.get_running_loop().run_in_executor(pool, _parse_each, raws, self.parse_one or parse)
        try:
            return await asyncio.wait_for(job, deadline)
        except (TimeoutError, BrokenProcessPool):
            _pools.replace(self.workers, pool)
            raise


def _parse_each(raws: list[bytes], parse_one: Callable[[bytes], ParsedMail]) -> list[Result]:
    """Runs in the worker: every error becomes a result, so one mail never fails the others."""
    results: list[Result] = []
    for raw in raws:
        try:
            results.append(parse_one(raw))
        except MailParseError as err:
            results.append(MailParseError(str(err)))
        except Exception as err:  # a parser bug on odd input: the message, not the traceback
            results.append(ParseFailed(f"{type(err).__name__}: {err}"))
    return results


class _Pools:
    """The process's worker pools, by size; a pool whose workers hang is killed and replaced."""

    def __init__(self) -> None:
        self._pools: dict[int, ProcessPoolExecutor] = {}
        self._lock = threading.Lock()

    def get(self, workers: int) -> ProcessPoolExecutor:
        with self._lock:
            pool = self._pools.get(workers)
            if pool is None:
                # spawn: a fork of a process with database and broker threads may inherit held locks.
                pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                           initializer=_exit_with_parent)
                self._pools[workers] = pool
            return pool

    def replace(self, workers: int, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pools.get(workers) is pool:
                del self._pools[workers]
        # A busy worker never looks at the queue again: only killing it frees the core.
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)


_pools = _Pools()


def _exit_with_parent() -> None:
    """In each worker: leave as soon as the hub process that started it is gone. A hub that is
    killed runs no shutdown, and its workers, holding each other's ends of the pool's pipes,
    would otherwise live on as orphans."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    sentinel = parent.sentinel

    def watch() -> None:
        multiprocessing.connection.wait([sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
