"""The default flow shipped for a telecom operator: it loads, and typical callers walk it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from plugins.voice.ivr import (
    Collect,
    Digits,
    Facts,
    Hangup,
    IvrRun,
    Played,
    Result,
    RouteToQueue,
    ServiceResult,
    Verify,
    facts_from_caller,
    load_flow,
)

EXAMPLE = Path(__file__).parents[3] / "plugins" / "voice" / "ivr" / "example.yaml"
FLOW = load_flow(EXAMPLE.read_text(encoding="utf-8"), services={"verify_password", "balance", "monthly_bill"})
NOON = datetime(2025, 6, 2, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
MIDNIGHT = datetime(2025, 6, 2, 16, 0, tzinfo=UTC)


def walk(*results: Result, at: datetime = NOON, **facts: Any) -> tuple[IvrRun, Any]:
    run = IvrRun(FLOW, Facts(**{"number": "13800000000", **facts}), clock=lambda: at)
    action = run.start()
    for result in results:
        action = run.feed(result)
    return run, action


def texts(action: Any) -> list[str]:
    return [audio.text for audio in action.prompts]


def test_the_example_has_every_kind_of_node_but_transfer() -> None:
    assert FLOW.name == "telecom-default" and FLOW.survey == "satisfaction" and FLOW.vip is not None
    assert {node.kind for node in FLOW.nodes.values()} == {
        "play", "announce_outages", "menu", "collect", "verify", "service", "branch", "queue", "survey",
        "hangup"}


def test_an_identified_gold_customer_checks_the_bill_then_asks_for_an_agent() -> None:
    run, spoken = walk(Played(), Digits("1"), Digits("123456"), ServiceResult(True), Digits("2"),
                       ServiceResult(True, {"month": "5", "amount": "88.00"}), customer_id=7, tier="gold")
    assert texts(spoken) == ["您5月的账单金额为88.00元。"]
    action = run.feed(Played())
    assert isinstance(action, Collect)  # back in the billing menu
    action = run.feed(Digits("0"))
    assert isinstance(action, RouteToQueue) and (action.queue, action.priority) == ("premium", 3)
    assert run.path.summary() == (
        "Main menu › 1 Billing › 2 Bill › Bill query (verified) › 0 Agent › Agent (queue premium)")


def test_an_unknown_caller_in_english_types_the_account_first() -> None:
    run, ask = walk(Played(), Digits("9"), Digits("1"))
    assert texts(ask) == ["Please enter the 11-digit mobile number of the account, then press hash."]
    check = run.feed(Digits("13912345678"))
    assert isinstance(check, Collect) and check.secret
    check = run.feed(Digits("654321"))
    assert isinstance(check, Verify) and check.variables["account"] == "13912345678"


def test_the_facts_are_what_the_hub_knows_of_the_calling_number() -> None:
    facts = facts_from_caller({"number": "13800000000", "customer_id": 7, "name": "王芳", "tier": "diamond",
                               "vip": True, "blocked": False, "region": "guangdong/shenzhen",
                               "outages": ["广东省光缆中断。"]}, language="zh-CN")
    assert (facts.customer_id, facts.customer_name, facts.vip, facts.region, facts.outages) == (
        7, "王芳", True, "guangdong/shenzhen", ("广东省光缆中断。",))
    assert not facts_from_caller({"number": "13900000000"}).blocked


def test_a_shenzhen_broadband_fault_hears_the_outage_and_reaches_the_local_team() -> None:
    run, news = walk(Played(), region="guangdong/shenzhen", outages=("南山区光缆中断，预计18点恢复。",))
    assert texts(news) == ["尊敬的客户，您所在地区目前有以下故障，我们正在全力抢修：",
                           "南山区光缆中断，预计18点恢复。"]
    run.feed(Played())
    action = run.feed(Digits("2"))
    assert isinstance(action, RouteToQueue)
    assert (action.queue, action.skills) == ("broadband_sz", ("broadband",))
    assert run.path.summary() == "Outage notice › Main menu › 2 Broadband fault › Agent (queue broadband_sz)"


def test_a_vip_hears_the_greeting_only() -> None:
    _run, action = walk(Played(), vip=True, tier="diamond")
    assert isinstance(action, RouteToQueue) and (action.queue, action.priority) == ("vip", 5)


def test_at_midnight_an_agent_is_closed_and_the_survey_follows_a_call() -> None:
    _run, action = walk(Played(), Digits("0"), at=MIDNIGHT)
    assert isinstance(action, Hangup) and texts(action)[0].startswith("人工服务时间为每天8点至22点")
    run, _action = walk(Played(), Digits("3"))
    assert isinstance(run.after_agent(), Collect) and isinstance(run.feed(Digits("5")), Hangup)
    assert run.score == 5
