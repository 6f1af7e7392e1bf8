"""The IVR interpreter: a call walks a flow one action and one result at a time, and every step
it takes is recorded for the agent."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from plugins.voice.ivr import (
    Action,
    Audio,
    CallerHungUp,
    CallPath,
    CallService,
    Collect,
    Digits,
    Facts,
    Hangup,
    IvrRun,
    NoInput,
    Play,
    Played,
    Result,
    RouteToQueue,
    ServiceResult,
    Transfer,
    Verify,
    load_flow,
)

MONDAY_10AM = datetime(2025, 6, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
MONDAY_8PM = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
FLOW_YAML = """\
name: test
start: greeting
survey: rating
vip: {after: greeting, queue: vip, prompt: {tts: "VIP line."}}
blocked: {prompt: {tts: "Sorry, no agent for you."}}
hours: {timezone: Asia/Shanghai, hours: {mon: [["09:00", "18:00"]]}}
nodes:
  greeting: {kind: play, prompt: {file: ivr/welcome.wav, tts: "Welcome, {customer_name}."}, next: outages}
  outages: {kind: announce_outages, prompt: {tts: "Service notice:"}, next: main}
  main:
    kind: menu
    title: Main menu
    prompt: [{tts: "Billing 2, account 3, agent 0, partner 8, English 9.", lang: zh-CN},
             {tts: "English menu.", lang: en-US}]
    invalid: {tts: "Invalid."}
    no_input: {tts: "Nothing pressed."}
    options: {2: {to: password, label: Billing}, 3: account, 0: {to: agent, label: Agent},
              8: {to: partner, label: Partner}, 9: {to: main, label: English, set: {language: en-US}}}
    on_failure: fallback
  fallback: {kind: hangup, title: Too many tries, prompt: {tts: "Goodbye."}}
  password: {kind: verify, title: Service password, prompt: {tts: "Password?"},
             invalid: {tts: "Wrong password."}, next: balance, on_failure: agent}
  balance: {kind: service, title: Balance query, service: balance, needs_verification: true,
            returns: [balance], say: {tts: "Your balance is {balance} yuan."}, next: billing,
            on_failure: agent}
  billing: {kind: queue, queue: billing, skills: [billing]}
  account: {kind: collect, into: account, prompt: {tts: "Your mobile number?"}, min_digits: 11,
            max_digits: 11, pattern: "1[3-9][0-9]{9}", next: agent, on_failure: fallback}
  agent:
    kind: branch
    rules:
      - {when: {open: false}, to: closed}
      - {when: {tier: [gold, diamond]}, to: premium}
      - {when: {region: guangdong}, to: guangdong}
      - {when: {variables: {language: en-US}}, to: english}
    otherwise: general
  premium: {kind: queue, queue: premium, priority: 3, prompt: {tts: "Connecting you."}}
  guangdong: {kind: queue, queue: guangdong}
  english: {kind: queue, queue: english}
  general: {kind: queue, queue: general}
  partner: {kind: transfer, target: "95598"}
  closed: {kind: hangup, prompt: {tts: "We are closed."}}
  rating: {kind: survey, prompt: {tts: "Press 1 to 5."}, next: thanks}
  thanks: {kind: hangup, title: Thanks, prompt: {tts: "Thank you."}}
"""
FLOW = load_flow(FLOW_YAML, services={"balance", "verify_password"})


def ticking(start: datetime = MONDAY_10AM) -> Callable[[], datetime]:
    """A clock that moves one second each time it is read."""
    seconds = itertools.count(1)
    return lambda: start + timedelta(seconds=next(seconds))


def call(flow: Any = FLOW, start: datetime = MONDAY_10AM, **facts: Any) -> IvrRun:
    return IvrRun(flow, Facts(**{"number": "13800000000", **facts}), clock=ticking(start))


def walk(run: IvrRun, *results: Result) -> Action:
    """Start the call if needed, then feed each result; the last action."""
    action = run.start() if run.action is None else run.action
    for result in results:
        action = run.feed(result)
    return action


def texts(action: Action) -> list[str]:
    return [audio.text for audio in getattr(action, "prompts", ())]


def said(*words: str) -> tuple[Audio, ...]:
    return tuple(Audio("", text, "zh-CN") for text in words)


def test_every_step_is_recorded_in_the_path() -> None:
    run = call(customer_id=7, customer_name="Li Lei")
    action = walk(run, Played(), Digits("7"), Digits("2"), Digits("123456"), ServiceResult(True),
                  ServiceResult(True, {"balance": "12.50"}), Played())
    assert action == RouteToQueue("billing", skills=("billing",), variables=run.public_variables())
    assert [(s.node, s.kind, s.outcome, s.digits, s.detail) for s in run.path.steps] == [
        ("greeting", "play", "played", [], ""),
        ("outages", "announce_outages", "none", [], ""),
        ("main", "menu", "chose", ["7", "2"], "2 Billing"),
        ("password", "verify", "verified", ["***"], ""),
        ("balance", "service", "ok", [], "verified"),
        ("billing", "queue", "routed", [], "billing"),
    ]
    assert run.path.steps[0].played == ["Welcome, Li Lei."]
    assert run.path.steps[2].played[1] == "Invalid."
    assert run.path.steps[4].played == ["Your balance is 12.50 yuan."]
    starts = [step.started_at for step in run.path.steps]
    assert starts == sorted(starts) and all(step.ended_at for step in run.path.steps)
    assert run.path.summary() == "Main menu › 2 Billing › Balance query (verified) › Agent (queue billing)"
    stored = run.path.to_json()  # kept with the interaction, read back for the agent's screen
    assert json.loads(stored)[0]["started_at"] == "2025-06-02T02:00:01+00:00"
    assert CallPath.from_json(stored).steps == run.path.steps


@pytest.mark.parametrize(("key", "unblocked"), [("0", RouteToQueue), ("8", Transfer)])
def test_a_blacklisted_caller_never_reaches_an_agent(key: str, unblocked: type) -> None:
    assert isinstance(walk(call(), Played(), Digits(key)), unblocked)
    run = call(blocked=True)
    action = walk(run, Played(), Digits(key))
    assert action == Hangup("blocked", said("Sorry, no agent for you."))
    assert run.done and run.path.steps[-1].outcome == "blocked"
    assert run.path.summary().endswith("Blocked caller: hung up")


def test_vip_goes_straight_to_the_vip_queue_after_the_greeting() -> None:
    run = call(vip=True, tier="platinum", outages=("Fibre cut.",))
    assert isinstance(run.start(), Play)
    action = run.feed(Played())
    assert isinstance(action, RouteToQueue) and (action.queue, texts(action)) == ("vip", ["VIP line."])
    assert [step.node for step in run.path.steps] == ["greeting", "(vip)"]
    assert run.path.summary() == "Agent (queue vip)"
    assert walk(call(vip=True, blocked=True), Played()) == Hangup("blocked", said("Sorry, no agent for you."))


def test_three_wrong_digits_end_at_the_menus_fallback() -> None:
    run = call()
    first = walk(run, Played())
    second = run.feed(Digits("7"))
    third = run.feed(Digits("4"))
    assert texts(second)[0] == texts(third)[0] == "Invalid."
    assert texts(first) == texts(second)[1:]
    assert run.feed(Digits("#")) == Hangup("completed", said("Goodbye."))
    main = run.path.steps[2]
    assert (main.outcome, main.digits) == ("failed", ["7", "4", "#"])
    assert run.path.summary() == "Main menu: no valid input › Too many tries"


def test_silence_gets_the_no_input_prompt_and_counts_as_a_try() -> None:
    run = call()
    action = walk(run, Played(), NoInput())
    assert isinstance(action, Collect) and texts(action)[0] == "Nothing pressed."
    assert (action.min_digits, action.max_digits, action.timeout, action.terminators) == (1, 1, 5.0, "")
    assert walk(run, Digits("5"), NoInput()) == Hangup("completed", said("Goodbye."))


def test_service_password_is_checked_before_the_balance_query() -> None:
    run = call(customer_id=7)
    ask = walk(run, Played(), Digits("2"))
    assert isinstance(ask, Collect) and ask.secret and (ask.min_digits, ask.max_digits) == (6, 6)
    check = run.feed(Digits("111111"))
    assert isinstance(check, Verify) and (check.service, check.password) == ("verify_password", "111111")
    again = run.feed(ServiceResult(False))
    assert isinstance(again, Collect) and texts(again) == ["Wrong password.", "Password?"]
    assert isinstance(run.feed(Digits("12345")), Collect)  # too short: a try, no check
    run.feed(Digits("123456"))
    query = run.feed(ServiceResult(True))
    assert isinstance(query, CallService) and query.name == "balance"
    assert query.variables["customer_id"] == "7"
    assert run.verified and run.path.steps[-2].digits == ["***", "***", "***"]
    assert "111111" not in repr(check) and "123456" not in run.path.to_json() + json.dumps(run.variables)


def test_a_wrong_password_three_times_ends_at_the_failure_branch() -> None:
    run = call()
    walk(run, Played(), Digits("2"))
    for _ in range(2):
        run.feed(Digits("000000"))
        run.feed(ServiceResult(False))
    run.feed(Digits("000000"))
    assert run.feed(ServiceResult(False)) == RouteToQueue("general", variables=run.public_variables())
    assert not run.verified
    assert run.path.summary() == (
        "Main menu › 2 Billing › Service password: wrong password › Agent (queue general)")


def test_a_failing_back_office_goes_to_the_services_failure_branch() -> None:
    run = call()
    action = walk(run, Played(), Digits("2"), Digits("123456"), ServiceResult(True), ServiceResult(False))
    assert isinstance(action, RouteToQueue) and action.queue == "general"
    assert run.path.summary().endswith("Balance query (verified, failed) › Agent (queue general)")
    # An answer without a value the flow was promised cannot be spoken: a failure too.
    run = call()
    walk(run, Played(), Digits("2"), Digits("123456"), ServiceResult(True))
    action = run.feed(ServiceResult(True, {"balanse": "3"}))
    assert isinstance(action, RouteToQueue) and "balance" not in run.variables


def test_collect_checks_length_and_pattern() -> None:
    run = call()
    walk(run, Played(), Digits("3"))
    assert texts(run.feed(Digits("12345"))) == ["Your mobile number?"]
    run.feed(Digits("12345678901"))  # 11 digits, but no mobile number
    action = run.feed(Digits("13912345678"))
    assert isinstance(action, RouteToQueue) and action.variables["account"] == "13912345678"
    assert run.path.steps[-3].digits == ["12345", "12345678901", "13912345678"]


def test_a_secret_input_is_masked_and_kept_from_routing() -> None:
    flow = load_flow(FLOW_YAML.replace("into: account,", "into: account, secret: true,"))
    run = call(flow)
    action = walk(run, Played(), Digits("3"), Digits("13912345678"))
    assert isinstance(action, RouteToQueue) and "account" not in action.variables
    assert run.variables["account"] == "13912345678" and run.path.steps[-3].digits == ["***"]


@pytest.mark.parametrize(("facts", "start", "queue"), [
    ({"tier": "gold"}, MONDAY_10AM, "premium"),
    ({"tier": "silver", "region": "guangdong/shenzhen"}, MONDAY_10AM, "guangdong"),
    ({"tier": "silver", "region": "guangxi"}, MONDAY_10AM, "general"),
    ({"tier": "gold"}, MONDAY_8PM, None),
])
def test_a_branch_asks_the_caller_facts_in_order(facts: dict[str, Any], start: datetime,
                                                 queue: str | None) -> None:
    action = walk(call(start=start, **facts), Played(), Digits("0"))
    if queue is None:
        assert action == Hangup("completed", said("We are closed."))
    else:
        assert isinstance(action, RouteToQueue) and action.queue == queue


def test_pressing_9_switches_the_prompts_and_the_branch_to_english() -> None:
    run = call()
    action = walk(run, Played(), Digits("9"))
    assert isinstance(action, Collect)
    assert [(audio.text, audio.voice) for audio in action.prompts] == [("English menu.", "en-US")]
    assert run.feed(Digits("0")) == RouteToQueue("english", variables=run.public_variables())


def test_survey_records_the_score() -> None:
    run = call()
    walk(run, Played(), Digits("0"))
    ask = run.after_agent()
    assert isinstance(ask, Collect) and texts(ask) == ["Press 1 to 5."]
    run.feed(Digits("6"))
    assert run.feed(Digits("4")) == Hangup("completed", said("Thank you."))
    assert run.score == 4 and run.variables["score"] == "4"
    assert run.path.summary() == "Main menu › 0 Agent › Agent (queue general) › Survey: 4 › Thanks"


def test_no_survey_means_the_call_ends_after_the_agent() -> None:
    flow = load_flow(FLOW_YAML.replace("survey: rating\n", "").replace("  rating:", "  # rating:")
                     .replace("  thanks:", "  # thanks:"))
    run = call(flow)
    walk(run, Played(), Digits("0"))
    assert run.after_agent() == Hangup("completed") and run.score is None


def test_the_caller_may_hang_up_at_any_step() -> None:
    run = call()
    assert walk(run, Played(), Digits("2"), CallerHungUp()) == Hangup("caller_hung_up")
    assert run.done and run.path.steps[-1].outcome == "caller_hung_up"
    assert run.path.summary() == "Main menu › 2 Billing › Caller hung up"
    with pytest.raises(TypeError):
        run.feed(Played())


def test_a_result_that_does_not_answer_the_action_is_refused() -> None:
    run = call()
    with pytest.raises(TypeError, match="does not answer nothing"):
        run.feed(Played())
    run.start()
    with pytest.raises(TypeError, match="Digits does not answer Play"):
        run.feed(Digits("1"))
    with pytest.raises(RuntimeError):
        run.start()
    with pytest.raises(RuntimeError):
        run.after_agent()
