"""Public security (公安) hukou register: rk_person, rk_household, rk_event in a SQL database."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from simulators.departments.common import RenderContext, fmt_compact, fmt_timestamp
from simulators.events import World
from simulators.population import Person

SOURCE = "public_security"
GENDER_CODES = {"M": "1", "F": "2"}  # GB/T 2261.1
MARITAL_CODES = {"unmarried": "10", "married": "20", "widowed": "30", "divorced": "40"}

metadata = sa.MetaData()
rk_person = sa.Table(
    "rk_person", metadata,
    sa.Column("rkid", sa.String(20), primary_key=True),
    sa.Column("sfzh", sa.String(40)),
    sa.Column("xm", sa.String(60)),
    sa.Column("xb", sa.String(2)),
    sa.Column("csrq", sa.String(10)),
    sa.Column("mz", sa.String(20)),
    sa.Column("hyzk", sa.String(2)),
    sa.Column("lxdh", sa.String(20)),
    sa.Column("hjdz", sa.String(200)),
    sa.Column("hh", sa.String(20)),
    sa.Column("hjzt", sa.String(4)),
    sa.Column("updated_at", sa.String(19), nullable=False, index=True),
)
rk_household = sa.Table(
    "rk_household", metadata,
    sa.Column("hh", sa.String(20), primary_key=True),
    sa.Column("hzxm", sa.String(60)),
    sa.Column("hz_rkid", sa.String(20)),
    sa.Column("hjdz", sa.String(200)),
    sa.Column("xzqh", sa.String(6)),
    sa.Column("hjrs", sa.Integer),
    sa.Column("updated_at", sa.String(19), nullable=False, index=True),
)
rk_event = sa.Table(
    "rk_event", metadata,
    sa.Column("sjid", sa.String(20), primary_key=True),
    sa.Column("rkid", sa.String(20), nullable=False),
    sa.Column("sjlx", sa.String(8)),
    sa.Column("sjrq", sa.String(10)),
    sa.Column("sjms", sa.String(200)),
    sa.Column("updated_at", sa.String(19), nullable=False, index=True),
)
TABLES = (rk_person, rk_household, rk_event)


class PublicSecurityRows:
    """Rows of the three tables, plus each person's primary rkid."""

    def __init__(self) -> None:
        self.persons: list[dict] = []
        self.households: list[dict] = []
        self.events: list[dict] = []
        self.rkid_of: dict[str, str] = {}


def person_row(ctx: RenderContext, noiser, person: Person, rkid: str, updated) -> dict:
    """One rk_person row with the register's (light) noise."""
    key = f"{SOURCE}:persons:{rkid}"
    cancelled = (person.death_date is not None and person.death_in_hukou) or person.moved_out_date is not None
    return {
        "rkid": rkid,
        "sfzh": noiser.id_number(key, "sfzh", person.id_number, person.birth_date),
        "xm": noiser.name(key, "xm", person.name),
        "xb": GENDER_CODES[person.gender],
        "csrq": noiser.date(key, "csrq", person.birth_date, fmt_compact),
        "mz": person.ethnicity,
        "hyzk": MARITAL_CODES[person.marital_status],
        "lxdh": noiser.phone(key, "lxdh", person.phone, person.old_phone),
        "hjdz": person.hukou_address,
        "hh": person.household_id,
        "hjzt": "注销" if cancelled else "正常",
        "updated_at": fmt_timestamp(updated),
    }


def render_public_security(world: World, ctx: RenderContext) -> PublicSecurityRows:
    """Every local with a hukou (alive, or dead and cancelled), their households and hukou events."""
    rows = PublicSecurityRows()
    noiser = ctx.noiser(scale=ctx.profile.authority_scale)
    serial = 0
    for person in world.persons.values():
        if person.is_migrant or not person.hukou_registered:
            continue
        serial += 1
        rkid = f"RK{serial:010d}"
        events = (person.moved_in_date, person.moved_out_date, person.death_date if person.death_in_hukou else None)
        last_event = max([d for d in events if d] or [person.birth_date])
        row = person_row(ctx, noiser, person, rkid, ctx.updated_at(not_before=last_event))
        rows.persons.append(row)
        rows.rkid_of[person.person_id] = rkid
        ctx.truth.record(SOURCE, "persons", rkid, person.person_id)
        if noiser.duplicate():  # 一人多户: the same person registered twice
            serial += 1
            dup_id = f"RK{serial:010d}"
            rows.persons.append(person_row(ctx, noiser, person, dup_id, ctx.updated_at(not_before=last_event)))
            key = ctx.truth.record(SOURCE, "persons", dup_id, person.person_id)
            ctx.truth.duplicates.append((person.person_id, f"{SOURCE}:persons:{rkid}", key))
    render_households(world, ctx, rows)
    render_events(world, ctx, rows)
    return rows


def render_households(world: World, ctx: RenderContext, rows: PublicSecurityRows) -> None:
    """rk_household: one row per local household with at least one registered member."""
    for household in world.households.values():
        if household.is_migrant:
            continue
        members = [world.persons[pid] for pid in household.member_ids if pid in rows.rkid_of]
        living = [p for p in members if not (p.death_date and p.death_in_hukou) and not p.moved_out_date]
        if not members:
            continue
        head = (living or members)[0]
        rows.households.append({
            "hh": household.household_id, "hzxm": head.name, "hz_rkid": rows.rkid_of[head.person_id],
            "hjdz": household.address.text, "xzqh": household.address.admin_code, "hjrs": len(living),
            "updated_at": fmt_timestamp(ctx.updated_at()),
        })


def add_event(ctx: RenderContext, rows: PublicSecurityRows, person: Person, kind: str, day, note: str) -> None:
    """One rk_event row about a registered person."""
    sjid = f"SJ{len(rows.events) + 1:010d}"
    rkid = rows.rkid_of[person.person_id]
    rows.events.append({"sjid": sjid, "rkid": rkid, "sjlx": kind, "sjrq": fmt_compact(day), "sjms": note,
                        "updated_at": fmt_timestamp(ctx.updated_at(not_before=day))})
    ctx.truth.fact(SOURCE, "hukou_events", sjid, f"{SOURCE}:persons:{rkid}", person.person_id)


def render_events(world: World, ctx: RenderContext, rows: PublicSecurityRows) -> None:
    """Birth registrations, death cancellations and moves, dated after the event itself."""
    rng = ctx.rng
    for person_id in world.births:
        person = world.persons[person_id]
        if person_id in rows.rkid_of:
            day = min(world.today, person.birth_date + timedelta(days=rng.randint(3, 30)))
            add_event(ctx, rows, person, "出生登记", day, "新生儿出生登记")
    for person_id in world.moves:
        person = world.persons[person_id]
        if person_id in rows.rkid_of:
            add_event(ctx, rows, person, "迁入", person.moved_in_date, f"市内迁入 {person.hukou_address}")
    for person_id in world.moves_out:
        if person_id in rows.rkid_of:
            person = world.persons[person_id]
            add_event(ctx, rows, person, "迁出", person.moved_out_date, f"迁往 {person.current_address}")
    for person_id in world.deaths:
        person = world.persons[person_id]
        if person_id in rows.rkid_of and person.death_in_hukou:
            day = min(world.today, person.death_date + timedelta(days=rng.randint(1, 20)))
            add_event(ctx, rows, person, "死亡注销", day, "死亡注销户口")


def write_sqlite(rows: PublicSecurityRows, path: Path) -> None:
    """Write the three tables into a fresh SQLite file."""
    if path.exists():
        path.unlink()
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        write_tables(engine, rows.persons, rows.households, rows.events)
    finally:
        engine.dispose()


def write_tables(engine: sa.Engine, persons: list[dict], households: list[dict], events: list[dict], schema: str | None = None) -> None:
    """(Re)create the three tables on `engine` (in `schema`, created if missing) and insert the rows in one transaction."""
    if schema:
        create_schema(engine, schema)
    with engine.begin() as connection:
        if schema:
            connection = connection.execution_options(schema_translate_map={None: schema})
        metadata.drop_all(connection)
        metadata.create_all(connection)
        for table, data in ((rk_person, persons), (rk_household, households), (rk_event, events)):
            if data:
                connection.execute(table.insert(), data)


def create_schema(engine: sa.Engine, schema: str) -> None:
    """CREATE SCHEMA (PostgreSQL) or CREATE DATABASE (MariaDB/MySQL) if it does not exist yet."""
    preparer = engine.dialect.identifier_preparer
    keyword = "DATABASE" if engine.dialect.name in ("mysql", "mariadb") else "SCHEMA"
    with engine.begin() as connection:
        connection.execute(sa.text(f"CREATE {keyword} IF NOT EXISTS {preparer.quote_identifier(schema)}"))


def read_tables(engine: sa.Engine) -> dict[str, list[dict]]:
    """All rows of the three tables, in primary-key order."""
    out: dict[str, list[dict]] = {}
    with engine.connect() as connection:
        for table in TABLES:
            key = list(table.primary_key.columns)[0]
            out[table.name] = [dict(row._mapping) for row in connection.execute(sa.select(table).order_by(key))]
    return out
