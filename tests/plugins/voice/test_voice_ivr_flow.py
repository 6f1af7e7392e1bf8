"""IVR flows as data: what ``load_flow`` accepts, and every problem it names, with its place."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from hub.errors import InvalidRequest
from plugins.voice.ivr import Flow, FlowInvalid, build_flow, load_flow

BASE: dict[str, Any] = {
    "name": "test",
    "start": "greeting",
    "blocked": {"prompt": {"tts": "Sorry, goodbye."}},
    "nodes": {
        "greeting": {"kind": "play", "prompt": {"file": "ivr/welcome.wav"}, "next": "main"},
        "main": {"kind": "menu", "title": "Main menu", "prompt": {"tts": "Press 1 or 0."},
                 "options": {"1": "billing", "0": "agent"}, "on_failure": "bye"},
        "billing": {"kind": "menu", "prompt": {"tts": "Press 1 to hang up, star for the main menu."},
                    "options": {"1": "bye", "*": "main"}, "on_failure": "agent"},
        "agent": {"kind": "queue", "queue": "general"},
        "bye": {"kind": "hangup", "prompt": {"tts": "Goodbye."}},
    },
}


def doc(**nodes: Any) -> dict[str, Any]:
    """The base flow with ``nodes`` added or replaced (None removes one)."""
    data = copy.deepcopy(BASE)
    for node_id, node in nodes.items():
        if node is None:
            del data["nodes"][node_id]
        else:
            data["nodes"][node_id] = node
    return data


def problems(data: dict[str, Any] | str, services: set[str] | None = None) -> list[str]:
    with pytest.raises(FlowInvalid) as caught:
        load_flow(data, services=services) if isinstance(data, str) else build_flow(data, services=services)
    return list(caught.value.problems)


def test_a_minimal_flow_loads_with_the_documented_defaults() -> None:
    flow = build_flow(BASE)
    assert isinstance(flow, Flow)
    main = flow.nodes["main"]
    assert (main.tries, main.timeout, main.digit_timeout) == (3, 5.0, 3.0)
    assert (flow.language, flow.max_menu_depth, flow.title_of("bye")) == ("zh-CN", 1, "Bye")


def test_a_menu_option_to_a_missing_node_is_named_with_its_place() -> None:
    data = doc()
    data["nodes"]["main"]["options"]["9"] = "sales"
    assert problems(data) == ["nodes.main.options.9: goes to 'sales', which is not a node"]


def test_every_problem_is_reported_at_once() -> None:
    data = doc(greeting={"kind": "play", "next": "main"},
               agent={"kind": "queue", "queue": "general", "priorty": 2},
               bye={"kind": "hangup", "prompt": []})
    data.pop("blocked")
    assert problems(data) == [
        "blocked: is required",
        "nodes.greeting.prompt: is required",
        "nodes.agent.priorty: is not a field here",
        "nodes.bye.prompt: must not be empty",
    ]


def test_flow_problems_are_an_invalid_request_with_a_stable_id() -> None:
    with pytest.raises(InvalidRequest) as caught:
        build_flow(doc(orphan={"kind": "hangup", "prompt": {"tts": "Bye."}}))
    assert caught.value.error_id == "invalid_ivr_flow"
    assert caught.value.message == "the IVR flow has 1 problem: nodes.orphan: is never reached from start"


def test_an_unknown_node_kind_lists_the_kinds() -> None:
    assert problems(doc(agent={"kind": "agent"})) == [
        "nodes.agent.kind: 'agent' is not a node kind; use one of play, announce_outages, menu, collect, "
        "verify, survey, service, branch, queue, transfer, hangup"]


def test_a_loop_without_input_is_refused() -> None:
    data = doc(bye={"kind": "play", "prompt": {"tts": "Please hold."}, "next": "hold"},
               hold={"kind": "play", "prompt": {"file": "music/hold.wav"}, "next": "bye"})
    assert problems(data) == [
        "nodes.bye: bye -> hold -> bye goes round forever for a caller who presses nothing; "
        "end it with a hangup, queue or transfer"]


def test_a_menu_whose_fallback_leads_back_to_it_loops_for_a_silent_caller() -> None:
    data = doc()
    data["nodes"]["main"]["on_failure"] = "main"
    assert problems(data) == [
        "nodes.main: main -> main goes round forever for a caller who presses nothing; "
        "end it with a hangup, queue or transfer"]


def test_going_back_to_the_main_menu_by_a_choice_is_no_loop() -> None:
    assert build_flow(BASE).nodes["billing"].options["*"].to == "main"


TOO_DEEP = "nodes.detail: a menu 2 levels below the main menu; at most 1 allowed (max_menu_depth)"
DETAIL = {"kind": "menu", "prompt": {"tts": "Press 1."}, "options": {"1": "bye"}, "on_failure": "bye"}


def test_a_menu_two_levels_deep_is_refused_by_default() -> None:
    data = doc(detail=DETAIL)
    data["nodes"]["billing"]["options"]["2"] = "detail"
    assert problems(data) == [TOO_DEEP]
    data["max_menu_depth"] = 2
    assert build_flow(data).max_menu_depth == 2


def test_a_menu_reached_through_other_nodes_still_counts_its_level() -> None:
    data = doc(
        ask={"kind": "collect", "into": "account", "prompt": {"tts": "Your account?"}, "next": "detail",
             "on_failure": "bye"},
        detail=DETAIL)
    data["nodes"]["billing"]["options"]["2"] = "ask"
    assert problems(data) == [TOO_DEEP]


def test_a_prompt_needs_a_sound_file_or_a_text() -> None:
    assert problems(doc(bye={"kind": "hangup", "prompt": {"voice": "zh-CN"}})) == [
        "nodes.bye.prompt.0: give a sound file, a tts text, or both"]


def test_a_sound_file_stays_under_the_sound_directory() -> None:
    assert problems(doc(bye={"kind": "hangup", "prompt": {"file": "../../etc/passwd"}})) == [
        "nodes.bye.prompt.0: file '../../etc/passwd': use a relative path of letters, digits, '_-./'"]
    assert problems(doc(bye={"kind": "hangup", "prompt": {"file": "/etc/passwd"}}))


def test_prompts_may_only_speak_variables_the_flow_has() -> None:
    data = doc(bye={"kind": "hangup", "prompt": {"tts": "Bye {customer_name}, your balance is {balanse}."}})
    assert problems(data) == ["nodes.bye.prompt.0.tts: {balanse} is not a variable of this flow"]


def test_a_prompt_cannot_reach_into_a_value() -> None:
    assert problems(doc(bye={"kind": "hangup", "prompt": {"tts": "{number.__class__}"}})) == [
        "nodes.bye.prompt.0: {number.__class__} is not a variable; write a name like {balance}"]


def test_a_secret_variable_is_never_spoken() -> None:
    data = doc(pin={"kind": "collect", "into": "pin", "secret": True, "prompt": {"tts": "PIN?"},
                    "next": "echo", "on_failure": "bye"},
               echo={"kind": "hangup", "prompt": {"tts": "You typed {pin}."}})
    data["nodes"]["main"]["options"]["2"] = "pin"
    assert problems(data) == ["nodes.echo.prompt.0.tts: {pin} is secret and is never spoken"]


def test_the_flow_cannot_overwrite_what_is_known_of_the_caller() -> None:
    data = doc()
    data["nodes"]["main"]["options"]["1"] = {"to": "billing", "set": {"tier": "diamond"}}
    assert problems(data) == [
        "nodes.main.options.1.set: 'tier' is a fact of the caller; the flow cannot change it"]


def balance_query(**extra: Any) -> dict[str, Any]:
    return {"kind": "service", "service": "balance", "returns": ["balance"], "needs_verification": True,
            "say": {"tts": "Your balance is {balance} yuan."}, "next": "bye", "on_failure": "agent", **extra}


def test_a_service_that_needs_the_password_must_come_after_a_verify_node() -> None:
    data = doc(balance=balance_query())
    data["nodes"]["main"]["options"]["2"] = "balance"
    assert problems(data) == [
        "nodes.balance: needs a verified service password but can be reached without one; "
        "put a verify node before it"]
    data["nodes"]["password"] = {"kind": "verify", "prompt": {"tts": "Password?"}, "next": "balance",
                                 "on_failure": "agent"}
    data["nodes"]["main"]["options"]["2"] = "password"
    assert build_flow(data).nodes["password"].min_digits == 6


def test_services_no_plugin_offers_are_refused_when_the_plugins_are_known() -> None:
    data = doc(password={"kind": "verify", "prompt": {"tts": "Password?"}, "next": "balance",
                         "on_failure": "agent"}, balance=balance_query(service="balanse"))
    data["nodes"]["main"]["options"]["2"] = "password"
    assert problems(data, services={"balance", "verify_password"}) == [
        "nodes.balance.service: 'balanse' is not a service any plugin offers "
        "(offered: balance, verify_password)"]
    assert build_flow(data).nodes["balance"].service == "balanse"


def test_the_vip_setting_and_the_survey_name_nodes_of_the_right_kind() -> None:
    data = doc()
    data["vip"] = {"after": "main", "queue": "vip"}
    data["survey"] = "bye"
    assert problems(data) == [
        "survey: 'bye' is a hangup node; name a survey node",
        "vip.after: 'main' is a menu node; name a play or announce_outages node"]
    data["vip"]["after"], data["survey"] = "welcome", "rating"
    assert problems(data) == ["survey: 'rating' is not a node", "vip.after: 'welcome' is not a node"]


def test_every_prompt_has_something_to_say_in_each_language_of_the_call() -> None:
    data = doc(bye={"kind": "hangup", "prompt": [{"tts": "再见。", "lang": "zh-CN"}]})
    assert build_flow(data).languages == {"zh-CN"}
    data["nodes"]["main"]["options"]["9"] = {"to": "main", "set": {"language": "en-US"}}
    assert problems(data) == [
        "nodes.bye.prompt: nothing to say in en-US; add an item with lang: en-US or no lang"]
    data["nodes"]["bye"]["prompt"].append({"tts": "Goodbye.", "lang": "en-US"})
    assert build_flow(data).languages == {"zh-CN", "en-US"}


def test_a_transfer_target_cannot_break_out_of_a_dial_string() -> None:
    assert problems(doc(agent={"kind": "transfer", "target": "95598,{x=1}user/1000"})) == [
        "nodes.agent.target: '95598,{x=1}user/1000' is not a number or endpoint like 95598 or "
        "sofia/gateway/gw1/95598"]


def test_menu_keys_are_one_key_of_the_phone() -> None:
    data = doc()
    data["nodes"]["main"]["options"]["10"] = "bye"
    assert problems(data) == ["nodes.main.options: '10' is not a key; use one of 0-9, '*' and '#' (quoted)"]


def test_collect_lengths_and_pattern_are_checked() -> None:
    collect = {"kind": "collect", "into": "account", "prompt": {"tts": "Account?"}, "next": "bye",
               "on_failure": "bye"}
    assert problems(doc(agent={**collect, "pattern": "[0-9"})) == [
        "nodes.agent.pattern: Input should be a valid regular expression"]
    assert problems(doc(agent={**collect, "min_digits": 8, "max_digits": 4})) == [
        "nodes.agent: min_digits 8 is more than max_digits 4"]


def test_a_branch_rule_asks_about_something() -> None:
    data = doc(agent={"kind": "branch", "rules": [{"when": {}, "to": "bye"}], "otherwise": "bye"})
    assert problems(data) == [
        "nodes.agent.rules.0.when: a rule needs at least one condition; use 'otherwise' for the rest"]
    data["nodes"]["agent"]["rules"][0]["when"] = {"region": "guangdong//shenzhen"}
    assert problems(data) == [
        "nodes.agent.rules.0.when: region: 'guangdong//shenzhen' is not a region path like "
        "'guangdong/shenzhen'"]


def test_opening_hours_are_read_like_a_queue_schedule() -> None:
    data = doc()
    data["hours"] = {"hours": {"mon": [["08:00", "20:00"]]}}
    assert problems(data) == [
        "hours: timezone: required when hours, holidays or open_days are given, e.g. 'Asia/Shanghai'"]


YAML = """\
name: test
start: greeting
blocked: {prompt: {tts: "Sorry."}}
hours: {timezone: Asia/Shanghai, hours: {mon: [[08:30, 12:30]]}, holidays: [2025-10-01]}
nodes:
  greeting: {kind: play, prompt: {tts: "Hello."}, next: main}
  main:
    kind: menu
    prompt: {tts: "Press 1."}
    options:
      1: {to: bye, set: {language: no, prefix: 0755}}
      "*": main
    on_failure: bye
  bye: {kind: hangup, prompt: {tts: "Bye."}}
"""


def test_yaml_reads_as_an_admin_means_it() -> None:
    flow = load_flow(YAML)
    # No 12:30 as a sexagesimal 750, no date objects, no "no" as False, no lost leading zero.
    assert flow.hours["hours"]["mon"] == [["08:30", "12:30"]] and flow.hours["holidays"] == ["2025-10-01"]
    assert flow.nodes["main"].options["1"].set == {"language": "no", "prefix": "0755"}
    # A number where text is expected is taken as written.
    transfer = load_flow(YAML.replace('hangup, prompt: {tts: "Bye."}', "transfer, target: 95598"))
    assert transfer.nodes["bye"].target == "95598"


def test_yaml_mistakes_name_their_line() -> None:
    assert problems(YAML.replace('"*": main', "*: main")) == [
        "line 12, column 8: expected alphabetic or numeric character, but found ':'; quote '*' and '#' keys"]
    assert problems(YAML.replace('"*": main', "'#': main\n      *x: main")) == [
        "line 13, column 7: aliases (*name) are not allowed; quote '*' and '#' keys"]
    assert problems(YAML.replace('"*": main', "#: main")) == [
        "line 12: YAML reads '#:' as a comment; quote the key: \"#\":"]
    assert problems(YAML + "  main: {kind: hangup, prompt: {tts: Bye.}}\n") == [
        "line 15, column 3: 'main' is written twice"]
    assert problems("name: [unclosed\n")[0].startswith("line 2, column 1: ")
    assert problems("- just a list\n") == ["the flow must be a mapping with name, start, blocked and nodes"]
