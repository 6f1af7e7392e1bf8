"""A small demo organisation: agents, queues, customers with history on several channels."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select, update

from hub.db import transaction
from hub.models import (
    Agent,
    AgentSkill,
    AgentUnit,
    Customer,
    CustomerIdentity,
    HistoryEntry,
    Interaction,
    InteractionStatus,
    Message,
    OrgUnit,
    Queue,
    QueueRules,
    Ticket,
    TicketParticipant,
    utcnow,
)
from hub.web.auth import hash_password

if TYPE_CHECKING:
    from hub.core import HubCore

DEMO_AGENTS = [
    ("1001", "李娜 Li Na", "agent", "zh_CN"),
    ("1002", "王磊 Wang Lei", "agent", "zh_CN"),
    ("1003", "Emma Clark", "agent", "en"),
    ("2001", "张伟 Zhang Wei", "supervisor", "zh_CN"),
    ("3001", "黄海 Huang Hai", "agent", "zh_CN"),
]
# (code, kind, parent code, name, region); the province centre itself is seeded for every hub.
DEMO_UNITS = [
    ("demo-shenzhen", "city", "centre", "深圳分公司 Shenzhen", "广东/深圳"),
    ("demo-nanshan", "county", "demo-shenzhen", "南山区 Nanshan", "广东/深圳/南山"),
    ("demo-nanshan-network", "department", "demo-nanshan", "南山网络维护 Nanshan network", "广东/深圳/南山"),
]
DEMO_MEMBERS = {"3001": "demo-nanshan-network"}
"""Huang Hai processes tickets dispatched to the Nanshan network department; everyone else
works in the province centre."""
DEMO_QUEUES = [("web", "Web chat"), ("vip", "VIP line"), ("billing", "Billing")]
# agent number -> [(queue, level, proficiency)]: Li Na and Wang Lei answer web chat first,
# Emma Clark is their second level; Li Na is the VIP line's expert.
DEMO_SKILLS = {
    "1001": [("web", 1, 4), ("default", 1, 3), ("vip", 1, 5)],
    "1002": [("web", 1, 3), ("default", 1, 3), ("billing", 2, 3)],
    "1003": [("web", 2, 2), ("default", 2, 3), ("billing", 1, 4)],
}
DEMO_RULES = {
    "web": {"strategy": "longest_idle", "steps": [{"after": 30, "min_proficiency": 1}],
            "targets": {"gold": {"fraction": 0.9, "seconds": 20},
                        "platinum": {"fraction": 0.95, "seconds": 10}}},
    "vip": {"strategy": "top_down", "overflow": [{"after": 60, "queue": "web"}]},
    "billing": {"strategy": "fewest_contacts"},
}
# (name, tier, region, phone, email, [(channel, days ago, subject, disposition, [texts])])
DEMO_CUSTOMERS = [
    ("陈晓明", "gold", "广东/深圳/南山", "13800138001", "xiaoming.chen@example.cn", [
        ("voice", 21, "宽带断线", "complaint", ["家里宽带每天晚上断线", "已派单维修，预计48小时内上门"]),
        ("email", 9, "账单疑问", "query", ["上月账单多收了20元？", "已核实为增值业务费用，已说明"]),
    ]),
    ("Sarah Miller", "platinum", "Guangdong/Guangzhou/Tianhe", "13900139002", "sarah@example.com", [
        ("email", 30, "Roaming plan", "consult", ["Which roaming plan covers Japan?",
                                                  "The Asia Pass covers Japan; details sent."]),
        ("sms", 3, "", "business", ["BALANCE", "Your balance is 86.50 CNY."]),
    ]),
    ("刘芳", "silver", "广东/佛山", "13700137003", "", [
        ("wechat", 12, "套餐变更", "business", ["我想改成128元套餐", "已为您办理，次月生效"]),
    ]),
    ("赵强", "diamond", "广东/东莞/松山湖", "13600136004", "zhao.qiang@example.cn", [
        ("voice", 40, "信号差", "complaint", ["公司楼里手机没信号", "已上报网络部门优化"]),
        ("voice", 5, "投诉跟进", "complaint", ["上次投诉的信号问题还没解决", "已催办网络部门"]),
    ]),
    ("Tom Baker", "ordinary", "", "", "tom.baker@example.org", [
        ("email", 2, "Suggestion: e-bill", "suggestion", ["Please offer PDF bills by email.",
                                                          "Thanks, forwarded to product team."]),
    ]),
]


async def has_demo(core: HubCore) -> bool:
    async with core.sessions() as s:
        return (await s.execute(select(Agent.id).where(Agent.is_demo.is_(True)).limit(1))).first() is not None  # type: ignore[attr-defined]


async def load_demo(core: HubCore) -> list[tuple[str, str, str]]:
    """Add the demo organisation once; returns (number, name, password) of its logins."""
    if await has_demo(core):
        return []
    logins = []
    async with transaction(core.sessions) as s:
        for name, title in DEMO_QUEUES:
            if (await s.execute(select(Queue).where(Queue.name == name))).first() is None:
                s.add(Queue(name=name, title=title, is_demo=True))
        await s.flush()
        for queue, rules in DEMO_RULES.items():
            s.add(QueueRules(queue=queue, **rules))
        for number, name, role, locale in DEMO_AGENTS:
            password = f"demo-{number}"
            agent = Agent(number=number, name=name, role=role, locale=locale, is_demo=True,
                          password_hash=hash_password(password))
            s.add(agent)
            await s.flush()
            for queue, level, proficiency in DEMO_SKILLS.get(number, []):
                s.add(AgentSkill(agent_id=agent.id, queue=queue, level=level, proficiency=proficiency))
            logins.append((number, name, password))
        units = await _add_units(s)
        for number, unit_code in DEMO_MEMBERS.items():
            agent_id = (await s.execute(select(Agent.id).where(Agent.number == number))).scalar_one()
            s.add(AgentUnit(agent_id=agent_id, unit_id=units[unit_code]))
        for entry in DEMO_CUSTOMERS:
            await _add_customer(s, *entry)
    await core.refresh_queue_names()
    await _routing_changed(core)
    return logins


async def _add_units(s) -> dict[str, int]:  # type: ignore[no-untyped-def]
    units = {"centre": (await s.execute(select(OrgUnit.id).where(OrgUnit.code == "centre"))).scalar_one()}
    for code, kind, parent, name, region in DEMO_UNITS:
        unit = OrgUnit(code=code, kind=kind, parent_id=units[parent], name=name, region=region)
        s.add(unit)
        await s.flush()
        units[code] = int(unit.id or 0)
    return units


async def _routing_changed(core: HubCore) -> None:
    from hub.routing.config import CONFIG_TOPIC

    await core.bus.publish(CONFIG_TOPIC, {"event": "routing-config", "what": "demo"})


async def _add_customer(s, name, tier, region, phone, email, contacts) -> None:  # type: ignore[no-untyped-def]
    customer = Customer(name=name, tier=tier, region=region, is_demo=True)
    s.add(customer)
    await s.flush()
    for kind, address in (("phone", phone), ("email", email)):
        if address:
            s.add(CustomerIdentity(customer_id=customer.id, kind=kind, address=address))
    for n, (channel, days, subject, disposition, texts) in enumerate(contacts):
        opened = utcnow() - timedelta(days=days)
        interaction = Interaction(
            customer_id=customer.id, channel=channel, thread_key=f"demo-{customer.id}-{n}",
            status=InteractionStatus.CLOSED, queue="default", subject=subject,
            disposition=disposition, last_seq=len(texts), created_at=opened, updated_at=opened,
            closed_at=opened + timedelta(minutes=12),
        )
        s.add(interaction)
        await s.flush()
        for seq, text in enumerate(texts, start=1):
            inbound = seq % 2 == 1
            s.add(Message(
                interaction_id=interaction.id, channel=channel, seq=seq, text=text,
                external_id=f"demo-{interaction.id}-{seq}", direction="in" if inbound else "out",
                author_type="customer" if inbound else "agent", author_name="" if inbound else "Demo",
                delivery_status="" if inbound else "delivered",
                created_at=opened + timedelta(minutes=seq * 3),
            ))
        for kind, at in (("opened", opened), ("closed", interaction.closed_at)):
            s.add(HistoryEntry(customer_id=customer.id, interaction_id=interaction.id,
                               channel=channel, kind=kind, summary=subject or texts[0][:80], at=at))


async def remove_demo(core: HubCore) -> None:
    """Delete everything the demo added; customers' interactions and messages go with them."""
    async with transaction(core.sessions) as s:
        demo_customers = select(Customer.id).where(Customer.is_demo.is_(True))  # type: ignore[attr-defined]
        demo_interactions = select(Interaction.id).where(Interaction.customer_id.in_(demo_customers))  # type: ignore[attr-defined]
        await s.execute(delete(Message).where(Message.interaction_id.in_(demo_interactions)))  # type: ignore[attr-defined]
        await s.execute(delete(HistoryEntry).where(HistoryEntry.customer_id.in_(demo_customers)))  # type: ignore[attr-defined]
        await s.execute(delete(Interaction).where(Interaction.customer_id.in_(demo_customers)))  # type: ignore[attr-defined]
        await s.execute(delete(CustomerIdentity).where(CustomerIdentity.customer_id.in_(demo_customers)))  # type: ignore[attr-defined]
        await s.execute(delete(Customer).where(Customer.is_demo.is_(True)))  # type: ignore[attr-defined]
        demo_agents = select(Agent.id).where(Agent.is_demo.is_(True))  # type: ignore[attr-defined]
        demo_queues = select(Queue.name).where(Queue.is_demo.is_(True))  # type: ignore[attr-defined]
        await s.execute(delete(AgentSkill).where(AgentSkill.agent_id.in_(demo_agents)  # type: ignore[attr-defined]
                                                 | AgentSkill.queue.in_(demo_queues)))  # type: ignore[attr-defined]
        await s.execute(delete(QueueRules).where(QueueRules.queue.in_(demo_queues)))  # type: ignore[attr-defined]
        await s.execute(delete(AgentUnit).where(AgentUnit.agent_id.in_(demo_agents)))  # type: ignore[attr-defined]
        # Tickets are records: those a demo unit held go back to the centre, not away.
        demo_units = select(OrgUnit.id).where(OrgUnit.code.in_([u[0] for u in DEMO_UNITS]))  # type: ignore[attr-defined]
        centre = select(OrgUnit.id).where(OrgUnit.code == "centre").scalar_subquery()
        await s.execute(update(Ticket).where(Ticket.owner_unit_id.in_(demo_units))  # type: ignore[union-attr]
                        .values(owner_unit_id=centre))
        await s.execute(delete(TicketParticipant).where(TicketParticipant.unit_id.in_(demo_units)))  # type: ignore[attr-defined]
        await s.execute(delete(AgentUnit).where(AgentUnit.unit_id.in_(demo_units)))  # type: ignore[attr-defined]
        for code, *_rest in reversed(DEMO_UNITS):
            await s.execute(delete(OrgUnit).where(OrgUnit.code == code))
        await s.execute(delete(Agent).where(Agent.is_demo.is_(True)))  # type: ignore[attr-defined]
        await s.execute(delete(Queue).where(Queue.is_demo.is_(True)))  # type: ignore[attr-defined]
    await core.refresh_queue_names()
    await _routing_changed(core)
