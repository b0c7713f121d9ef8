"""Civil affairs (民政) system: assistance cases, marriage registrations and cremations as JSON records."""

from __future__ import annotations

from datetime import timedelta

from simulators.departments.common import RenderContext, fmt_chinese, fmt_iso, fmt_iso_timestamp, fmt_slash
from simulators.events import World
from simulators.population import Person

SOURCE = "civil_affairs"
SEX = {"M": "男", "F": "女"}
FUNERAL_HOMES = ("杭州殡仪馆", "萧山区殡仪馆", "余杭区殡仪馆", "富阳区殡仪馆")


def birthday_format(ctx: RenderContext):
    """Two generations of data-entry software: most write YYYY-MM-DD, some YYYY年M月D日."""
    return fmt_chinese if ctx.rng.random() < 0.2 else fmt_iso


def person_fields(ctx: RenderContext, noiser, key: str, person: Person) -> dict:
    """The identity fields every civil affairs record carries."""
    return {
        "idCard": noiser.id_number(key, "idCard", person.id_number, person.birth_date),
        "name": noiser.name(key, "name", person.name),
        "sex": SEX[person.gender],
        "birthday": noiser.date(key, "birthday", person.birth_date, birthday_format(ctx)),
    }


def render_assistance(world: World, ctx: RenderContext) -> list[dict]:
    """Assistance cases (低保 / 特困 / 高龄补贴), some entered twice."""
    noiser = ctx.noiser()
    records: list[dict] = []
    serial = 0
    for case in world.assistance:
        person = world.persons[case.person_id]
        copies = 2 if noiser.duplicate() else 1
        for copy in range(copies):
            serial += 1
            case_id = f"MZJZ{serial:07d}"
            key = ctx.truth.record(SOURCE, "assistance", case_id, person.person_id)
            last = max(d for d in (case.start_date, case.end_date) if d)
            records.append({
                "caseId": case_id,
                **person_fields(ctx, noiser, key, person),
                "phone": noiser.phone(key, "phone", person.phone, person.old_phone),
                "address": noiser.address(key, "address", person.current_address, person.previous_address),
                "program": case.program,
                "status": case.status,
                "startDate": fmt_iso(case.start_date),
                "endDate": fmt_iso(case.end_date) if case.end_date else None,
                "monthlyAmount": case.monthly_amount,
                "updatedAt": fmt_iso_timestamp(ctx.updated_at(not_before=last)),
            })
            if copy == 0:
                ctx.truth.remember("assistance", case.case_no, key)
            else:
                ctx.truth.duplicates.append((person.person_id, ctx.truth.index["assistance"][case.case_no], key))
    return records


def render_marriages(world: World, ctx: RenderContext) -> list[dict]:
    """One row per party of each marriage or divorce registration."""
    noiser = ctx.noiser()
    records: list[dict] = []
    for marriage in world.marriages:
        first = world.persons[marriage.party_ids[0]]
        letter = "J" if marriage.kind == "结婚" else "L"
        registration_id = f"{letter}{first.hukou_admin_code if not first.is_migrant else '330100'}-{marriage.date.year}-{marriage.registration_no:06d}"
        updated = fmt_iso_timestamp(ctx.updated_at(not_before=marriage.date))
        for index, person_id in enumerate(marriage.party_ids, start=1):
            person = world.persons[person_id]
            party_id = f"{registration_id}-{index}"
            key = ctx.truth.record(SOURCE, "marriages", party_id, person_id)
            records.append({
                "partyId": party_id,
                "registrationId": registration_id,
                "regType": marriage.kind,
                "regDate": fmt_chinese(marriage.date),
                **person_fields(ctx, noiser, key, person),
                "updatedAt": updated,
            })
    return records


def render_cremations(world: World, ctx: RenderContext) -> list[dict]:
    """Cremation records of the deceased, dated a few days after death."""
    noiser = ctx.noiser()
    records: list[dict] = []
    for serial, person_id in enumerate(world.cremations, start=1):
        person = world.persons[person_id]
        record_id = f"BZ{serial:07d}"
        key = ctx.truth.record(SOURCE, "cremations", record_id, person_id)
        cremated = min(world.today, person.death_date + timedelta(days=ctx.rng.randint(1, 5)))
        records.append({
            "recordId": record_id,
            **{k: v for k, v in person_fields(ctx, noiser, key, person).items() if k != "birthday"},
            "deathDate": noiser.date(key, "deathDate", person.death_date, fmt_slash),
            "cremationDate": fmt_iso(cremated),
            "funeralHome": ctx.rng.choice(FUNERAL_HOMES),
            "updatedAt": fmt_iso_timestamp(ctx.updated_at(not_before=cremated)),
        })
    return records
