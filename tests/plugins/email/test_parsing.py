"""Mail is parsed in worker processes: the same result as on the loop, and a mail that makes
the parser hang, crash or raise costs a worker and a try, never the hub or the other mails."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from hostile_parser import hangs_or_dies, worker_pid
from mail_support import customer_mail

from plugins.email.parse import MailParseError, parse
from plugins.email.parsing import ParseFailed, Parser

CORPUS = sorted((Path(__file__).parent / "corpus").glob("*.eml"))


async def test_workers_parse_the_corpus_exactly_as_the_loop_does() -> None:
    raws = [path.read_bytes() for path in CORPUS]
    assert await Parser(workers=1, seconds=30).parse_all(raws) == [parse(raw) for raw in raws]


async def test_the_parsing_happens_in_another_process() -> None:
    [parsed] = await Parser(workers=1, seconds=30, parse_one=worker_pid).parse_all([b"Subject: x\r\n\r\n"])
    assert parsed.subject != str(os.getpid())


async def test_bytes_that_are_not_mail_are_a_parse_error_for_that_mail_only() -> None:
    good = customer_mail("hello")
    results = await Parser(workers=1, seconds=30).parse_all([b"", good])
    assert isinstance(results[0], MailParseError)
    assert results[1] == parse(good)


async def test_a_parser_exception_fails_that_mail_with_its_reason() -> None:
    fine = customer_mail("fine")
    results = await Parser(workers=1, seconds=30, parse_one=hangs_or_dies).parse_all(
        [customer_mail("TRIP"), fine])
    assert isinstance(results[0], ParseFailed)
    assert str(results[0]) == "RecursionError: maximum recursion depth exceeded"
    assert results[1] == parse(fine)


async def test_a_hanging_mail_times_out_alone_and_the_worker_is_replaced() -> None:
    parser = Parser(workers=1, seconds=1, parse_one=hangs_or_dies)
    before, hang, after = customer_mail("before"), customer_mail("HANG"), customer_mail("after")
    started = time.monotonic()
    results = await parser.parse_all([before, hang, after])
    assert results[0] == parse(before) and results[2] == parse(after)
    assert isinstance(results[1], ParseFailed) and "over 1 s" in str(results[1])
    # The batch deadline (1 s + a quarter second a mail), then the hanging mail alone (1 s).
    assert time.monotonic() - started < 10
    assert await parser.parse_all([after]) == [parse(after)], "a fresh worker took over"


async def test_a_mail_that_kills_the_worker_fails_alone() -> None:
    parser = Parser(workers=1, seconds=30, parse_one=hangs_or_dies)
    good, deadly = customer_mail("good"), customer_mail("DIE")
    results = await parser.parse_all([good, deadly, good])
    assert results[0] == results[2] == parse(good)
    assert isinstance(results[1], ParseFailed) and "died" in str(results[1])


async def test_other_batches_keep_flowing_while_one_mail_hangs() -> None:
    slow = Parser(workers=1, seconds=1, parse_one=hangs_or_dies)
    fast = Parser(workers=0, seconds=1)
    hanging = asyncio.ensure_future(slow.parse_all([customer_mail("HANG")]))
    meanwhile = customer_mail("meanwhile")
    assert await fast.parse_all([meanwhile]) == [parse(meanwhile)]
    assert not hanging.done(), "the loop was never blocked by the hanging parse"
    [result] = await hanging
    assert isinstance(result, ParseFailed)
