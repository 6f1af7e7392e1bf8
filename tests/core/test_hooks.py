"""Every hook in hub.hookspecs, called by a real HubCore the way production calls it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from hub.channel import Channel
from hub.conformance import reference, wait_for
from hub.conformance.reference import MemoryChannel
from hub.core import HubCore, create_hub
from hub.db import create_all, transaction
from hub.errors import ConfigError, NotReady
from hub.events import AgentStateEvent, InteractionEvent, MessageEvent, TicketEvent
from hub.hookspecs import hookimpl
from hub.jobs import PluginJob
from hub.messages import InboundMessage
from hub.models import Agent, Customer, Disposition, Interaction
from hub.outbound import send_message
from hub.routing.config import plugin_strategies, strategy_sources
from hub.routing.engine import Router
from hub.routing.model import AgentConfig, Membership, Offer, QueueConfig
from hub.routing.model import Interaction as Contact
from hub.routing.states import AgentState, AgentStates
from hub.routing.strategies import KeyFunction

MakeHub = Callable[..., Awaitable[HubCore]]


def inbound(text: str = "hello", sender: str = "+8613800000001", external_id: str = "m-1") -> InboundMessage:
    return InboundMessage(channel="memory", external_id=external_id, sender=sender,
                          thread_key=sender, text=text)


async def new_customer(core: Any, name: str) -> int:
    async with transaction(core.sessions) as s:
        customer = Customer(name=name)
        s.add(customer)
        await s.flush()
        return int(customer.id)  # type: ignore[arg-type]


async def interaction_of(core: Any, interaction_id: int) -> Interaction:
    async with core.sessions() as s:
        row = await s.get(Interaction, interaction_id)
    assert row is not None
    return row


class Recorder:
    """Observes every event hook; the async ones prove the hub awaits them."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    @hookimpl
    async def hub_on_interaction(self, event: InteractionEvent) -> None:
        self.seen.append(event)

    @hookimpl
    def hub_on_message(self, event: MessageEvent) -> None:
        self.seen.append(event)

    @hookimpl
    async def hub_on_ticket(self, event: TicketEvent) -> None:
        self.seen.append(event)


class Broken:
    """Fails in every observing and deciding hook; the others must not notice."""

    @hookimpl
    def hub_on_interaction(self, event: InteractionEvent) -> None:
        raise RuntimeError("observer broke")

    @hookimpl
    def hub_on_message(self, event: MessageEvent) -> None:
        raise RuntimeError("observer broke")

    @hookimpl
    def hub_on_ticket(self, event: TicketEvent) -> None:
        raise RuntimeError("observer broke")

    @hookimpl
    def hub_identify_customer(self, hub: Any, channel: str, address: str) -> int:
        raise RuntimeError("identify broke")

    @hookimpl
    def hub_pick_queue(self, hub: Any, interaction: dict[str, Any], message: InboundMessage) -> str:
        raise RuntimeError("pick broke")


# hub_register_channels


async def test_register_channels_starts_the_channel(make_hub: MakeHub) -> None:
    core = await make_hub(reference)
    channel = core.channel("memory")
    assert isinstance(channel, MemoryChannel) and core.channel_plugins["memory"] == reference.__name__
    assert (await core.health())["memory"]["state"] == "ok"
    assert channel.hub.scope == "memory"


class Twin:
    """Registers a second channel called ``memory``."""

    @hookimpl
    def hub_register_channels(self, register: Callable[[type[Channel]], None]) -> None:
        register(type("OtherMemory", (MemoryChannel,), {}))


def test_register_channels_duplicate_name_stops_start_up(hub_settings: Any) -> None:
    with pytest.raises(ConfigError) as err:
        create_hub(hub_settings(), plugins=[reference, Twin()], load_entry_points=False)
    line = str(err.value)
    assert "\n" not in line and "'memory'" in line
    assert reference.__name__ in line and "Twin" in line


def test_register_channels_failure_stops_start_up(hub_settings: Any) -> None:
    class Failing:
        @hookimpl
        def hub_register_channels(self, register: Callable[[type[Channel]], None]) -> None:
            raise ImportError("missing driver library")

    with pytest.raises(ConfigError, match="'Failing' failed in hub_register_channels: missing driver"):
        create_hub(hub_settings(), plugins=[Failing()], load_entry_points=False)


# hub_identify_customer


class Passes:
    @hookimpl
    def hub_identify_customer(self, hub: Any, channel: str, address: str) -> int | None:
        return None


class Knows:
    """Answers asynchronously with the customer it was given."""

    def __init__(self) -> None:
        self.customer_id: int | None = None
        self.asked: list[tuple[str, str, str]] = []

    @hookimpl
    async def hub_identify_customer(self, hub: Any, channel: str, address: str) -> int | None:
        self.asked.append((hub.scope, channel, address))
        return self.customer_id


class AlsoKnows:
    def __init__(self) -> None:
        self.customer_id: int | None = None

    @hookimpl
    def hub_identify_customer(self, hub: Any, channel: str, address: str) -> int | None:
        return self.customer_id


async def test_identify_customer_async_answer_wins(make_hub: MakeHub) -> None:
    knows = Knows()
    # The last registered plugin is asked first: Passes, then Knows.
    core = await make_hub(knows, Passes())
    knows.customer_id = await new_customer(core, "Known from billing")
    result = await core.facade("memory").ingest(inbound())
    assert result.customer_id == knows.customer_id
    assert knows.asked == [("memory", "memory", "+8613800000001")]


async def test_identify_customer_first_non_none_wins(make_hub: MakeHub) -> None:
    first, second = AlsoKnows(), Knows()
    core = await make_hub(second, first)
    first.customer_id = await new_customer(core, "first")
    second.customer_id = await new_customer(core, "second")
    result = await core.facade("memory").ingest(inbound())
    assert result.customer_id == first.customer_id and second.asked == []


async def test_identify_customer_failure_is_logged_and_skipped(
    make_hub: MakeHub, caplog: pytest.LogCaptureFixture
) -> None:
    knows = Knows()
    core = await make_hub(knows, Broken())
    knows.customer_id = await new_customer(core, "still found")
    result = await core.facade("memory").ingest(inbound())
    assert result.customer_id == knows.customer_id
    assert "plugin 'Broken' failed in hub_identify_customer" in caplog.text


async def test_identify_customer_not_asked_for_known_identity(make_hub: MakeHub) -> None:
    knows = Knows()
    core = await make_hub(knows)
    first = await core.facade("memory").ingest(inbound(external_id="m-1"))
    await core.facade("memory").ingest(inbound(external_id="m-2"))
    assert len(knows.asked) == 1 and first.created


# hub_pick_queue


class Picks:
    def __init__(self, queue: str | None) -> None:
        self.queue = queue
        self.calls: list[tuple[dict[str, Any], str]] = []

    @hookimpl
    async def hub_pick_queue(
        self, hub: Any, interaction: dict[str, Any], message: InboundMessage
    ) -> str | None:
        self.calls.append((interaction, message.text))
        return self.queue


async def test_pick_queue_answer_is_used_once_per_interaction(make_hub: MakeHub) -> None:
    picks = Picks("vip")
    core = await make_hub(picks, Broken())
    first = await core.facade("memory").ingest(inbound("first", external_id="m-1"))
    await core.facade("memory").ingest(inbound("second", external_id="m-2"))
    assert (await interaction_of(core, first.interaction_id)).queue == "vip"
    assert len(picks.calls) == 1
    info, text = picks.calls[0]
    assert text == "first"
    assert set(info) == {"id", "channel", "customer_id", "thread_key", "subject"}
    assert info["id"] == first.interaction_id and info["channel"] == "memory"


async def test_pick_queue_all_pass_means_default(make_hub: MakeHub) -> None:
    core = await make_hub(Picks(None))
    result = await core.facade("memory").ingest(inbound())
    assert (await interaction_of(core, result.interaction_id)).queue == "default"


# hub_on_interaction, hub_on_message


async def test_on_interaction_and_on_message_observe_inbound(
    make_hub: MakeHub, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder()
    core = await make_hub(reference, recorder, Broken())
    result = await core.facade("memory").ingest(inbound())
    await core.facade("memory").ingest(inbound())  # a replay announces nothing
    assert recorder.seen == [
        InteractionEvent("opened", result.interaction_id, "memory", result.customer_id, queue="default"),
        MessageEvent("inbound", result.message_id, result.interaction_id, "memory", 1),
    ]
    assert "plugin 'Broken' failed in hub_on_interaction" in caplog.text
    assert "plugin 'Broken' failed in hub_on_message" in caplog.text


async def test_on_message_observes_outbound_and_delivery(make_hub: MakeHub) -> None:
    recorder = Recorder()
    core = await make_hub(reference, recorder)
    result = await core.facade("memory").ingest(inbound())
    message_id = await send_message(core, result.interaction_id, "we are on it")
    await wait_for(lambda: [e for e in recorder.seen if getattr(e, "kind", "") == "delivery"])
    mine = [e for e in recorder.seen if isinstance(e, MessageEvent) and e.message_id == message_id]
    assert [(e.kind, e.status) for e in mine] == [("outbound", "pending"), ("delivery", "sent")]


# hub_on_ticket


async def test_on_ticket_is_called_and_published(
    make_hub: MakeHub, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder()
    core = await make_hub(recorder, Broken())
    live: list[dict[str, Any]] = []

    async def listener(topic: str, payload: dict[str, Any]) -> None:
        live.append(payload)

    core.bus.subscribe("tickets", listener)
    event = TicketEvent("created", 7, {"title": "No signal in Haidian"})
    await core.ticket_event(event)
    assert recorder.seen == [event]
    assert "plugin 'Broken' failed in hub_on_ticket" in caplog.text
    assert live == [{"event": "TicketEvent", "kind": "created", "ticket_id": 7,
                     "data": {"title": "No signal in Haidian"}}]


# hub_on_agent_state


class StateWatcher:
    def __init__(self) -> None:
        self.seen: list[AgentStateEvent] = []

    @hookimpl
    async def hub_on_agent_state(self, event: AgentStateEvent) -> None:
        self.seen.append(event)


class BrokenStateWatcher:
    @hookimpl
    def hub_on_agent_state(self, event: AgentStateEvent) -> None:
        raise RuntimeError("observer broke")


async def test_on_agent_state_is_called_and_published(
    make_hub: MakeHub, caplog: pytest.LogCaptureFixture
) -> None:
    watcher = StateWatcher()
    core = await make_hub(watcher, BrokenStateWatcher())
    live: list[dict[str, Any]] = []

    async def listener(topic: str, payload: dict[str, Any]) -> None:
        live.append(payload)

    core.bus.subscribe("agent-states", listener)
    async with transaction(core.sessions) as s:
        agent = Agent(number="1001", name="Li Na", password_hash="")
        s.add(agent)
    at = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

    await AgentStates(core).change(int(agent.id), AgentState.IDLE, by=agent.id, now=at)  # type: ignore[arg-type]

    assert watcher.seen == [AgentStateEvent(int(agent.id), "logged_out", "idle", "", agent.id, at)]  # type: ignore[arg-type]
    assert "plugin 'BrokenStateWatcher' failed in hub_on_agent_state" in caplog.text
    assert live == [{"event": "AgentStateEvent", "agent_id": agent.id, "from_state": "logged_out",
                     "to_state": "idle", "reason": "", "by": agent.id, "at": "2026-11-23T09:00:00+00:00",
                     "interaction_id": None}]


# hub_register_dispositions


class Refunds:
    @hookimpl
    def hub_register_dispositions(self, register: Callable[[str, dict[str, str]], None]) -> None:
        register("refund", {"en": "Refund", "zh_CN": "退款"})


async def dispositions(core: Any) -> dict[str, Disposition]:
    async with core.sessions() as s:
        return {d.code: d for d in (await s.execute(select(Disposition))).scalars()}


async def test_register_dispositions_adds_and_keeps_edits(make_hub: MakeHub) -> None:
    core = await make_hub(Refunds())
    rows = await dispositions(core)
    assert (rows["refund"].label_en, rows["refund"].label_zh_cn) == ("Refund", "退款")
    assert "complaint" in rows  # the built-in categories stay
    async with transaction(core.sessions) as s:
        refund = await s.get(Disposition, "refund")
        assert refund is not None
        refund.label_en = "Money back"
    await core.stop()
    again = await make_hub(Refunds())  # same database: a restart
    assert (await dispositions(again))["refund"].label_en == "Money back"


async def test_register_dispositions_failure_stops_start(hub_settings: Any) -> None:
    class Failing:
        @hookimpl
        def hub_register_dispositions(self, register: Callable[[str, dict[str, str]], None]) -> None:
            raise KeyError("labels")

    core = create_hub(hub_settings(), plugins=[Failing()], load_entry_points=False)
    await create_all(core.engine)
    try:
        with pytest.raises(ConfigError, match="'Failing' failed in hub_register_dispositions"):
            await core.start()
    finally:
        await core.stop()


# hub_register_strategies


class FewestMissed:
    """Offers first to the agent who missed the fewest offers."""

    @hookimpl
    def hub_register_strategies(self, register: Callable[[str, KeyFunction], None]) -> None:
        register("fewest_missed", lambda agent, queue, rng: agent.missed_offers)


async def test_register_strategies_adds_a_usable_strategy(make_hub: MakeHub) -> None:
    core = await make_hub(FewestMissed())
    assert strategy_sources(core.pm)["fewest_missed"] == "FewestMissed"
    assert strategy_sources(core.pm)["longest_idle"] == "built-in"
    router = Router([QueueConfig("billing", strategy="fewest_missed")],
                    strategies=plugin_strategies(core.pm))
    for agent_id, missed in ((1, 4), (2, 0), (3, 2)):
        router.add_agent(AgentConfig(agent_id, (Membership("billing"),)))
        router.agents[agent_id].missed_offers = missed
        router.set_available(agent_id, True, now=0.0)
    offers = [router.on_arrival(Contact(id=n, queue="billing", arrived_at=1.0), now=1.0) for n in (1, 2, 3)]
    assert [o.agent_id for o in offers if isinstance(o, Offer)] == [2, 3, 1]


class FewestMissedAgain:
    @hookimpl
    def hub_register_strategies(self, register: Callable[[str, KeyFunction], None]) -> None:
        register("fewest_missed", lambda agent, queue, rng: -agent.missed_offers)


class ShadowsBuiltIn:
    @hookimpl
    def hub_register_strategies(self, register: Callable[[str, KeyFunction], None]) -> None:
        register("round_robin", lambda agent, queue, rng: 0.0)


@pytest.mark.parametrize(("plugins", "message"), [
    ((FewestMissed(), FewestMissedAgain()),
     "strategy 'fewest_missed' is registered twice: by plugin 'FewestMissedAgain' and by plugin "
     "'FewestMissed'"),
    ((ShadowsBuiltIn(),), "strategy 'round_robin' from plugin 'ShadowsBuiltIn' has the name of a built-in"),
])
async def test_register_strategies_duplicate_name_stops_start(
        hub_settings: Any, plugins: tuple[object, ...], message: str) -> None:
    core = create_hub(hub_settings(), plugins=list(plugins), load_entry_points=False)
    await create_all(core.engine)
    try:
        with pytest.raises(ConfigError) as err:
            await core.start()
        assert message in str(err.value) and "\n" not in str(err.value)
    finally:
        await core.stop()


# hub_register_services


class BackOffice:
    """A billing back office: the balance of a customer who gave the right service password."""

    @hookimpl
    def hub_register_services(self, register: Callable[..., None]) -> None:
        async def balance(variables: Mapping[str, str]) -> Mapping[str, Any] | None:
            return {"balance": "42.50"} if variables.get("password") == "123456" else None

        register("balance", balance)


class AnotherBackOffice:
    @hookimpl
    def hub_register_services(self, register: Callable[..., None]) -> None:
        async def balance(variables: Mapping[str, str]) -> Mapping[str, Any] | None:
            return None

        register("balance", balance)


class HalfRegistered:
    @hookimpl
    def hub_register_services(self, register: Callable[..., None]) -> None:
        register("balance")


async def test_register_services_offers_a_self_service_to_every_channel(make_hub: MakeHub) -> None:
    core = await make_hub(BackOffice())
    services = core.facade("memory").services

    assert sorted(services) == ["balance"]
    assert await services["balance"]({"password": "123456"}) == {"balance": "42.50"}
    assert await services["balance"]({"password": "000000"}) is None
    with pytest.raises(TypeError):
        services["other"] = services["balance"]  # type: ignore[index]


@pytest.mark.parametrize(("plugins", "message"), [
    ((BackOffice(), AnotherBackOffice()),
     "self-service 'balance' is registered twice: by plugin 'AnotherBackOffice' and by plugin 'BackOffice'"),
    ((HalfRegistered(),),
     "plugin 'HalfRegistered' must call register(name, service) in hub_register_services"),
])
def test_register_services_refuses_a_duplicate_or_a_half_registration(
        hub_settings: Any, plugins: tuple[object, ...], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        create_hub(hub_settings(), plugins=list(plugins), load_entry_points=False)
    assert str(err.value) == message


# hub_on_offer


class OfferWatcher:
    def __init__(self) -> None:
        self.seen: list[Any] = []

    @hookimpl
    async def hub_on_offer(self, event: Any) -> None:
        self.seen.append(event)


async def test_on_offer_hears_the_offer_and_its_answer(make_hub: MakeHub) -> None:
    from hub.ingest import ingest
    from hub.models import AgentSkill
    from hub.routing import actions
    from hub.routing.config import CONFIG_TOPIC

    watcher = OfferWatcher()
    core = await make_hub(watcher)
    async with transaction(core.sessions) as s:
        agent = Agent(number="1001", name="Li Na", password_hash="")
        s.add(agent)
        await s.flush()
        s.add(AgentSkill(agent_id=agent.id, queue="default"))
    await core.bus.publish(CONFIG_TOPIC, {"event": "routing-config", "what": "skills"})
    await core.states.change(int(agent.id), AgentState.IDLE, by=agent.id)  # type: ignore[arg-type]
    result = await ingest(core, inbound())
    await wait_for(lambda: len(watcher.seen) == 1)
    await actions.accept_offer(core, agent, result.interaction_id)
    await wait_for(lambda: len(watcher.seen) == 2)

    offered, accepted = watcher.seen
    assert (offered.kind, offered.agent_id, offered.interaction_id, offered.queue) == (
        "offered", agent.id, result.interaction_id, "default")
    assert offered.timeout == 20.0 and offered.channel == "memory"
    assert (accepted.kind, accepted.interaction_id) == ("accepted", result.interaction_id)


# hub_on_outage


class OutageWatcher:
    def __init__(self) -> None:
        self.seen: list[Any] = []

    @hookimpl
    def hub_on_outage(self, event: Any) -> None:
        self.seen.append(event)


async def test_on_outage_hears_an_outage_declared_and_ended(make_hub: MakeHub) -> None:
    from hub.tickets import outages

    watcher = OutageWatcher()
    core = await make_hub(watcher)
    live: list[dict[str, Any]] = []

    async def listener(_topic: str, payload: dict[str, Any]) -> None:
        live.append(payload)

    core.bus.subscribe(outages.TOPIC, listener)
    async with transaction(core.sessions) as s:
        supervisor = Agent(number="2001", name="Zhang Wei", password_hash="", role="supervisor")
        s.add(supervisor)
    outage = await outages.declare(core, supervisor, region="guangdong/shenzhen", service="broadband",
                                   wording="Broadband is down in Shenzhen; engineers are on site.")
    await outages.end(core, supervisor, int(outage.id or 0))

    assert [(e.kind, e.region, e.service) for e in watcher.seen] == [
        ("declared", "guangdong/shenzhen", "broadband"), ("ended", "guangdong/shenzhen", "broadband")]
    assert watcher.seen[1].ended_at is not None
    assert [(p["type"], p["kind"]) for p in live] == [("outage", "declared"), ("outage", "ended")]


# hub_register_tasks


class Deliveries:
    """A plugin job that fails twice with NotReady, then succeeds; and one that gives up."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, int]] = []
        self.gave_up: list[tuple[str, int]] = []

    @hookimpl
    def hub_register_tasks(self, register: Callable[[PluginJob], None]) -> None:
        async def flaky(hub: Any, n: int) -> None:
            self.runs.append((hub.scope, n))
            if len(self.runs) < 3:
                raise NotReady("peer busy")

        async def hopeless(hub: Any, n: int) -> None:
            raise NotReady("peer gone")

        async def give_up(hub: Any, error: Exception, n: int) -> None:
            self.gave_up.append((str(error), n))

        register(PluginJob("memory", "flaky", flaky, backoff=0.01))
        register(PluginJob("memory", "hopeless", hopeless, max_retries=2, backoff=0.01, on_give_up=give_up))


async def test_register_tasks_jobs_run_in_process_with_retries(make_hub: MakeHub) -> None:
    plugin = Deliveries()
    core = await make_hub(plugin, run_jobs_in_process=True)
    assert sorted(core.jobs) == ["memory.flaky", "memory.hopeless"]
    core.facade("memory").enqueue("memory.flaky", 7)
    core.facade("memory").enqueue("memory.hopeless", 8)
    await wait_for(lambda: len(plugin.runs) == 3 and plugin.gave_up, 5, message="jobs settled")
    assert plugin.runs == [("memory", 7)] * 3
    assert plugin.gave_up == [("peer gone", 8)]


async def test_register_tasks_become_celery_tasks_with_a_beat_entry(hub_settings: Any) -> None:
    from hub.tasks import celery_app

    class Periodic:
        @hookimpl
        def hub_register_tasks(self, register: Callable[[PluginJob], None]) -> None:
            async def sweep(hub: Any) -> None: ...
            register(PluginJob("memory", "sweep", sweep, every=30))

    import hub.plugins as plugins_module

    real = plugins_module.create_plugin_manager

    def with_periodic(**kwargs: Any) -> Any:
        return real(load_entry_points=False, extra=[Periodic()])

    plugins_module.create_plugin_manager = with_periodic  # type: ignore[assignment]
    try:
        app = celery_app(hub_settings())
    finally:
        plugins_module.create_plugin_manager = real  # type: ignore[assignment]
    assert "memory.sweep" in app.tasks
    assert app.conf.beat_schedule["memory.sweep"]["schedule"] == 30


@pytest.mark.parametrize("bad", ["twice", "not a job"])
async def test_register_tasks_refuses_duplicates_and_strangers(hub_settings: Any, bad: str) -> None:
    async def run(hub: Any) -> None: ...

    class Bad:
        @hookimpl
        def hub_register_tasks(self, register: Callable[[Any], None]) -> None:
            register(PluginJob("memory", "x", run))
            register(PluginJob("memory", "x", run) if bad == "twice" else "x")

    with pytest.raises(ConfigError, match="registered twice" if bad == "twice" else "not a PluginJob"):
        create_hub(hub_settings(), plugins=[Bad()], load_entry_points=False)
