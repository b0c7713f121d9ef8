"""Advance a generated city by days: new births, deaths, phone changes, enrolments and housing drops.

Every change carries a later update time than anything before it, so connectors can be tested on
incremental extraction; the truth files are kept in step.
"""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

from simulators.departments import civil_affairs, health, housing, public_security
from simulators.departments.common import (RenderContext, Truth, fmt_compact, fmt_fhir_instant, fmt_iso, fmt_iso_timestamp,
                                            fmt_slash, fmt_timestamp, record_key)
from simulators.events import World
from simulators.idnumber import make_id_number, sequence_for
from simulators.names import pick_given_name
from simulators.noise import NoiseProfile
from simulators.population import MOBILE_PREFIXES, Person
from simulators.storage import read_jsonl, read_manifest, write_jsonl, write_manifest
from simulators.truth import NOISE_COLUMNS, PERSON_COLUMNS, append_csv, person_from_row, person_row, read_csv, write_csv

CIVIL_STREAMS = ("assistance", "marriages", "cremations")


class CityState:
    """A generated city loaded back from disk, changed in memory and saved again."""

    def __init__(self, city_dir: Path):
        self.city_dir = Path(city_dir)
        self.manifest = read_manifest(self.city_dir)
        self.today = date.fromisoformat(self.manifest["today"])
        self.profile = NoiseProfile(**self.manifest["noise_profile"])
        self.world = World(today=self.today, persons={}, households={})
        for row in read_csv(self.city_dir / "truth" / "persons.csv"):
            self.world.persons[row["person_id"]] = person_from_row(row)
        self.keys: dict[tuple[str, str, str], list[str]] = {}
        for row in read_csv(self.city_dir / "truth" / "records.csv"):
            self.keys.setdefault((row["source"], row["stream"], row["person_id"]), []).append(row["source_record_id"])
        cases = json.loads((self.city_dir / "truth" / "cases.json").read_text(encoding="utf-8"))
        self.protected = {pid for items in cases.values() for item in items for pid in item["person_ids"]}
        self.civil = {s: read_jsonl(self.city_dir / "civil_affairs" / f"{s}.jsonl") for s in CIVIL_STREAMS}
        self.patients = read_jsonl(self.city_dir / "health" / "patients.jsonl")
        self.observations = read_jsonl(self.city_dir / "health" / "observations.jsonl")
        self.engine = sa.create_engine(f"sqlite:///{self.city_dir / 'public_security.db'}")
        self.truth = Truth()
        self.summary: dict[str, int] = {}
        self.new_housing: dict[str, int] = {"property": 0, "rental": 0}
        self.new_files: dict[str, dict] = {}
        self.retracted_noise: set[tuple[str, str]] = set()  # (record_key, field) of errors a department corrected
        self.new_cases: dict[str, list[dict]] = {}
        self.noise_total: int | None = None  # set when noise.csv is rewritten rather than appended to
        self.cases_added: dict[str, int] = {}

    def count(self, what: str, n: int = 1) -> None:
        self.summary[what] = self.summary.get(what, 0) + n

    def next_serial(self) -> int:
        """A serial for ids made while advancing, kept in the manifest across calls."""
        serial = self.manifest.get("advance_serial", 0) + 1
        self.manifest["advance_serial"] = serial
        return serial

    def first_key(self, source: str, stream: str, person_id: str) -> str | None:
        ids = self.keys.get((source, stream, person_id))
        return ids[0] if ids else None

    def note_record(self, source: str, stream: str, record_id: str, person_id: str) -> None:
        self.truth.record(source, stream, record_id, person_id)
        self.keys.setdefault((source, stream, person_id), []).append(record_id)

    def living(self, predicate) -> list[Person]:
        """Living residents matching `predicate` who are not part of a planted case, in id order."""
        return [p for p in self.world.persons.values()
                if p.alive and not p.moved_out_date and p.person_id not in self.protected and predicate(p)]

    def save(self) -> None:
        """Write every changed file back and extend the truth files."""
        for stream, records in self.civil.items():
            write_jsonl(self.city_dir / "civil_affairs" / f"{stream}.jsonl", records)
        write_jsonl(self.city_dir / "health" / "patients.jsonl", self.patients)
        write_jsonl(self.city_dir / "health" / "observations.jsonl", self.observations)
        truth_dir = self.city_dir / "truth"
        write_csv(truth_dir / "persons.csv", PERSON_COLUMNS, (list(person_row(p).values()) for p in self.world.persons.values()))
        append_csv(truth_dir / "records.csv", ((s, st, i, record_key(s, st, i), p) for s, st, i, p in self.truth.records))
        append_csv(truth_dir / "facts.csv", ((s, st, i, record_key(s, st, i), k, p) for s, st, i, k, p in self.truth.facts))
        self.save_noise(truth_dir / "noise.csv")
        self.save_cases(truth_dir / "cases.json")
        self.engine.dispose()

    def save_noise(self, path: Path) -> None:
        """Append the new noise rows; rewrite the file when a correction means a logged error is no longer in the data."""
        new_rows = [row for row in self.truth.noise.rows if (row[0], row[1]) not in self.retracted_noise]
        if not self.retracted_noise:
            append_csv(path, new_rows)
            return
        kept = [tuple(row[c] for c in NOISE_COLUMNS) for row in read_csv(path) if (row["record_key"], row["field"]) not in self.retracted_noise]
        write_csv(path, NOISE_COLUMNS, kept + new_rows)
        self.noise_total = len(kept) + len(new_rows)

    def save_cases(self, path: Path) -> None:
        """Add the planted-case entries made while advancing (a parent's number on a child, duplicates, floating population)."""
        added = {name: list(items) for name, items in self.new_cases.items()}
        added.setdefault("parent_id_on_child", []).extend(
            {"person_ids": [i["person_id"]], "parent_person_id": i["parent_person_id"], "field": i["field"], "record_keys": [i["record_key"]]}
            for i in self.truth.parent_id_on_child)
        added.setdefault("duplicate_records", []).extend(
            {"person_ids": [person_id], "record_keys": [first, duplicate]} for person_id, first, duplicate in self.truth.duplicates)
        added = {name: items for name, items in added.items() if items}
        if not added:
            return
        cases = json.loads(path.read_text(encoding="utf-8"))
        for name, items in added.items():
            cases.setdefault(name, []).extend(items)
        path.write_text(json.dumps(cases, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        self.cases_added = {name: len(items) for name, items in added.items()}


def context(state: CityState, rng: random.Random) -> RenderContext:
    return RenderContext(rng, state.profile, state.truth, state.today)


def today_time(ctx: RenderContext):
    """An update time during the simulated today."""
    return ctx.updated_at(not_before=ctx.today)


def change_phones(state: CityState, ctx: RenderContext, how_many: int = 3) -> None:
    """Some registered residents report a new mobile number to the police station."""
    people = state.living(lambda p: p.hukou_registered and not p.is_migrant and p.phone)
    for person in ctx.rng.sample(people, min(how_many, len(people))):
        person.old_phone, person.phone = person.phone, ctx.rng.choice(MOBILE_PREFIXES) + f"{ctx.rng.randrange(10**8):08d}"
        rkid = state.first_key("public_security", "persons", person.person_id)
        with state.engine.begin() as connection:
            connection.execute(sa.update(public_security.rk_person).where(public_security.rk_person.c.rkid == rkid)
                               .values(lxdh=person.phone, updated_at=fmt_timestamp(today_time(ctx))))
        state.count("phone_changes")


def insert_ps_person(state: CityState, ctx: RenderContext, person: Person) -> str:
    """A new rk_person row (births) and its truth record."""
    with state.engine.begin() as connection:
        last = connection.execute(sa.select(sa.func.max(public_security.rk_person.c.rkid))).scalar() or "RK0"
        rkid = f"RK{int(last[2:]) + 1:010d}"
        row = public_security.person_row(ctx, ctx.noiser(scale=state.profile.authority_scale), person, rkid, today_time(ctx))
        connection.execute(public_security.rk_person.insert(), [row])
    state.note_record("public_security", "persons", rkid, person.person_id)
    return rkid


def insert_ps_event(state: CityState, ctx: RenderContext, person: Person, rkid: str, kind: str, day: date, note: str) -> None:
    """A new rk_event row and its truth fact."""
    with state.engine.begin() as connection:
        last = connection.execute(sa.select(sa.func.max(public_security.rk_event.c.sjid))).scalar() or "SJ0"
        sjid = f"SJ{int(last[2:]) + 1:010d}"
        connection.execute(public_security.rk_event.insert(), [{"sjid": sjid, "rkid": rkid, "sjlx": kind, "sjrq": fmt_compact(day),
                                                                 "sjms": note, "updated_at": fmt_timestamp(today_time(ctx))}])
    state.truth.fact("public_security", "hukou_events", sjid, record_key("public_security", "persons", rkid), person.person_id)


def next_id(records: list[dict], field: str, prefix: str, width: int) -> str:
    """The next id of a `<prefix><digits>` id family."""
    numbers = [int(r[field][len(prefix):]) for r in records if str(r[field]).startswith(prefix) and r[field][len(prefix):].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1:0{width}d}"


def add_certificate(state: CityState, ctx: RenderContext, person: Person, kind: str, when: date) -> None:
    """A birth or death certificate, adding a Patient for the person if the health system has none."""
    patient_id = state.first_key("health", "patients", person.person_id)
    if patient_id is None:
        patient_id = next_id(state.patients, "id", "pat-", 6)
        patient = health.patient_resource(ctx, ctx.noiser(), state.world, person, patient_id)
        # Made today: an update time from an earlier day would sit behind the connectors' bookmark.
        patient["meta"] = {"lastUpdated": fmt_fhir_instant(today_time(ctx))}
        state.patients.append(patient)
        state.keys.setdefault(("health", "patients", person.person_id), []).append(patient_id)
    else:
        for resource in state.patients:
            if resource["id"] == patient_id and person.death_date:
                resource["deceasedDateTime"] = fmt_iso(person.death_date)
                resource["meta"] = {"lastUpdated": fmt_fhir_instant(today_time(ctx))}
    obs_id = next_id(state.observations, "id", "obs-", 6)
    letter = "Q" if kind == "birth-certificate" else "S"
    number = f"{letter}{person.current_admin_code[:4]}{ctx.rng.randrange(10**6):06d}"
    observation = health.certificate(ctx, obs_id, kind, patient_id, when, number)
    observation["meta"] = {"lastUpdated": fmt_fhir_instant(today_time(ctx))}
    state.observations.append(observation)
    state.truth.fact("health", "certificates", obs_id, record_key("health", "patients", patient_id), person.person_id)


def surname_of(father: Person) -> str:
    """The surname a baby takes from its father (a two-character compound surname when he has one)."""
    compound = father.name[:2] in ("欧阳", "司马", "诸葛", "上官", "司徒", "东方", "皇甫", "慕容")
    return father.name[:2] if len(father.name) >= 3 and compound else father.name[:1]


def register_birth(state: CityState, ctx: RenderContext) -> None:
    """A baby born yesterday to a local couple: birth certificate, hukou registration, a Patient."""
    rng = ctx.rng
    mothers = state.living(lambda p: p.gender == "F" and p.hukou_registered and not p.is_migrant and p.spouse_id is not None
                           and 22 <= p.age_on(ctx.today) <= 40 and p.marital_status == "married")
    if not mothers:
        return
    mother = rng.choice(mothers)
    father = state.world.persons.get(mother.spouse_id)
    if father is None or not father.alive:
        return
    gender = rng.choice("MF")
    birth = ctx.today - timedelta(days=1)
    used = {p.id_number for p in state.world.persons.values()}
    while True:
        number = make_id_number(mother.hukou_admin_code, birth, sequence_for(gender, rng.randrange(500)))
        if number not in used:
            break
    person_id = f"P{max(int(pid[1:]) for pid in state.world.persons) + 1:06d}"
    baby = Person(person_id=person_id, id_number=number, name=surname_of(father) + pick_given_name(rng, gender), gender=gender, birth_date=birth,
                  ethnicity=father.ethnicity, marital_status="unmarried", phone=None, household_id=mother.household_id,
                  hukou_address=mother.hukou_address, hukou_admin_code=mother.hukou_admin_code, current_address=mother.current_address,
                  current_admin_code=mother.current_admin_code, mother_id=mother.person_id, father_id=father.person_id)
    state.world.persons[person_id] = baby
    rkid = insert_ps_person(state, ctx, baby)
    insert_ps_event(state, ctx, baby, rkid, "出生登记", ctx.today, "新生儿出生登记")
    add_certificate(state, ctx, baby, "birth-certificate", birth)
    state.count("births")


def record_death(state: CityState, ctx: RenderContext) -> None:
    """An old resident died yesterday: certificate, hukou cancelled, cremation, benefits stopped."""
    by_household: dict[str, list[Person]] = {}
    for person in state.world.persons.values():
        if person.alive:
            by_household.setdefault(person.household_id, []).append(person)

    def may_die(p: Person) -> bool:
        others = [o for o in by_household.get(p.household_id, []) if o.person_id != p.person_id]
        # a survivor aged 80+ left alone would change the planted elderly-alone cases
        return (p.hukou_registered and not p.is_migrant and p.age_on(ctx.today) >= 75
                and (len(others) >= 2 or (others and all(o.age_on(ctx.today) < 80 for o in others))))

    candidates = state.living(may_die)
    if not candidates:
        return
    person = ctx.rng.choice(candidates)
    person.death_date = ctx.today - timedelta(days=1)
    rkid = state.first_key("public_security", "persons", person.person_id)
    with state.engine.begin() as connection:
        connection.execute(sa.update(public_security.rk_person).where(public_security.rk_person.c.rkid == rkid)
                           .values(hjzt="注销", updated_at=fmt_timestamp(today_time(ctx))))
    insert_ps_event(state, ctx, person, rkid, "死亡注销", ctx.today, "死亡注销户口")
    spouse = state.world.persons.get(person.spouse_id) if person.spouse_id else None
    if spouse and spouse.alive:
        spouse.marital_status = "widowed"
        spouse_rkid = state.first_key("public_security", "persons", spouse.person_id)
        if spouse_rkid:
            with state.engine.begin() as connection:
                connection.execute(sa.update(public_security.rk_person).where(public_security.rk_person.c.rkid == spouse_rkid)
                                   .values(hyzk=public_security.MARITAL_CODES["widowed"], updated_at=fmt_timestamp(today_time(ctx))))
    add_certificate(state, ctx, person, "death-certificate", person.death_date)
    stop_assistance(state, ctx, person)
    add_cremation(state, ctx, person)
    state.count("deaths")


def stop_assistance(state: CityState, ctx: RenderContext, person: Person) -> None:
    """Assistance of a deceased person is stopped (updated records, later updatedAt)."""
    case_ids = set(state.keys.get(("civil_affairs", "assistance", person.person_id), []))
    for record in state.civil["assistance"]:
        if record["caseId"] in case_ids and record["status"] == "在保":
            record.update(status="停保", endDate=fmt_iso(ctx.today), updatedAt=fmt_iso_timestamp(today_time(ctx)))
            state.count("assistance_stopped")


def add_cremation(state: CityState, ctx: RenderContext, person: Person) -> None:
    """The cremation record of a person who died yesterday."""
    record_id = next_id(state.civil["cremations"], "recordId", "BZ", 7)
    noiser = ctx.noiser()
    key = record_key("civil_affairs", "cremations", record_id)
    fields = civil_affairs.person_fields(ctx, noiser, key, person)
    state.civil["cremations"].append({
        "recordId": record_id, **{k: v for k, v in fields.items() if k != "birthday"},
        "deathDate": fmt_slash(person.death_date), "cremationDate": fmt_iso(ctx.today),
        "funeralHome": ctx.rng.choice(civil_affairs.FUNERAL_HOMES), "updatedAt": fmt_iso_timestamp(today_time(ctx)),
    })
    state.note_record("civil_affairs", "cremations", record_id, person.person_id)


def enrol_assistance(state: CityState, ctx: RenderContext) -> None:
    """A new 低保 case for a local adult."""
    people = state.living(lambda p: not p.is_migrant and p.hukou_registered and p.age_on(ctx.today) >= 18)
    if not people:
        return
    person = ctx.rng.choice(people)
    case_id = next_id(state.civil["assistance"], "caseId", "MZJZ", 7)
    key = record_key("civil_affairs", "assistance", case_id)
    noiser = ctx.noiser()
    state.civil["assistance"].append({
        "caseId": case_id, **civil_affairs.person_fields(ctx, noiser, key, person),
        "phone": person.phone, "address": person.current_address, "program": "低保", "status": "在保",
        "startDate": fmt_iso(ctx.today), "endDate": None, "monthlyAmount": "1245.00",
        "updatedAt": fmt_iso_timestamp(today_time(ctx)),
    })
    state.note_record("civil_affairs", "assistance", case_id, person.person_id)
    state.count("assistance_enrolments")


def housing_drop(state: CityState, ctx: RenderContext) -> None:
    """Today's property CSV (a new registration and a re-measured one) and rental workbook (a new filing)."""
    from simulators.events import Property, Rental
    from simulators.regions import hangzhou_address

    rng = ctx.rng
    rows = housing.HousingRows()
    owners = state.living(lambda p: not p.is_migrant and p.age_on(ctx.today) >= 22)
    if owners:
        owner = rng.choice(owners)
        serial = 9_000_000 + state.next_serial()
        item = Property(serial, f"{owner.current_admin_code}{rng.randrange(10**6):06d}GB{rng.randrange(10**5):05d}F{rng.randrange(10**8):08d}",
                        owner.person_id, hangzhou_address(rng).text, f"{rng.uniform(38, 180):.2f}", ctx.today, "单独所有")
        one = World(today=ctx.today, persons=state.world.persons, households={}, properties=[item])
        housing.render_property(one, ctx, rows, ctx.today)
        rows.property = [(ctx.today, row) for _, row in rows.property]
        state.new_housing["property"] += len(rows.property)
    rows.property += remeasured_rows(state, ctx)
    tenants = state.living(lambda p: p.is_migrant and p.age_on(ctx.today) >= 18)
    if tenants:
        tenant = rng.choice(tenants)
        serial = state.next_serial()
        # Filing numbers made while advancing carry an A so they never collide with generated ones.
        filing = Rental(serial, tenant.person_id, tenant.current_address, ctx.today, ctx.today + timedelta(days=365),
                        record_id=f"ZL{tenant.current_admin_code}{ctx.today.year}A{serial:05d}")
        one = World(today=ctx.today, persons=state.world.persons, households={}, rentals=[filing])
        housing.render_rental(one, ctx, rows, ctx.today)
        rows.rental = [(ctx.today, row) for _, row in rows.rental]
        state.new_housing["rental"] += len(rows.rental)
    for _, row in rows.property + rows.rental:
        row["更新时间"] = fmt_timestamp(today_time(ctx))
    state.new_files.update(housing.write_housing(rows, state.city_dir / "housing_drop", days=[ctx.today]))
    state.count("housing_files", 2)


def remeasured_rows(state: CityState, ctx: RenderContext) -> list[tuple[date, dict]]:
    """An existing property record sent again with a corrected floor area (same 登记编号, later 更新时间)."""
    import csv
    import io

    drop = state.city_dir / "housing_drop"
    first = sorted(drop.glob("property_*.csv"))[0]
    rows = list(csv.DictReader(io.StringIO(first.read_bytes().decode("gbk"))))
    if not rows:
        return []
    row = dict(ctx.rng.choice(rows))
    row["建筑面积"] = f"{float(row['建筑面积']) + ctx.rng.choice((-1.5, -0.8, 0.6, 1.2)):.2f}"
    state.count("property_updates")
    return [(ctx.today, row)]


def advance_city(city_dir: Path, days: int = 1, seed: int | None = None, change_share: float | None = None) -> dict:
    """Simulate the next `days` days of a generated city; return its updated manifest with a summary of changes.

    Without `change_share` each day brings the same small handful of events whatever the city's size.
    With it, the advance changes about that share of the source person records (0.01: 1%), spread over
    the kinds of change departments really produce (see `simulators.change_set`).
    """
    from simulators.change_set import ChangeSet, check_share

    if change_share is not None:
        check_share(change_share)  # before the slow load of a large city
    state = CityState(city_dir)
    base_seed = state.manifest["seed"] if seed is None else seed
    changes = ChangeSet(state) if change_share is not None else None
    target = changes.target(change_share, days) if changes else 0
    for _ in range(days):
        state.today += timedelta(days=1)
        state.world.today = state.today
        day_number = state.manifest["days_advanced"] + 1
        state.manifest["days_advanced"] = day_number
        if changes:
            # a stream of its own, so a change-set day never replays the fixed-events day of the same number
            changes.run_day(random.Random(f"{base_seed}:changes:{day_number}"), target)
            continue
        rng = random.Random(f"{base_seed}:advance:{day_number}")
        ctx = context(state, rng)
        change_phones(state, ctx)
        register_birth(state, ctx)
        record_death(state, ctx)
        enrol_assistance(state, ctx)
        housing_drop(state, ctx)
    state.save()
    manifest = refreshed_manifest(state)
    write_manifest(state.city_dir, manifest)
    summary = changes.summary(change_share, days) if changes else state.summary
    return {**manifest, "last_advance": {"days": days, **summary}}


def refreshed_manifest(state: CityState) -> dict:
    """The manifest with today's date and recounted sources."""
    manifest = dict(state.manifest)
    manifest["today"] = state.today.isoformat()
    with state.engine.connect() as connection:
        count = lambda table: connection.execute(sa.select(sa.func.count()).select_from(table)).scalar()  # noqa: E731
        ps = {"persons": count(public_security.rk_person), "hukou_events": count(public_security.rk_event),
              "households": count(public_security.rk_household)}
    state.engine.dispose()
    housing_counts = dict(manifest["counts"]["housing"])
    for stream, added in state.new_housing.items():
        housing_counts[stream] = housing_counts.get(stream, 0) + added
    manifest["counts"] = {
        "public_security": ps,
        "civil_affairs": {stream: len(records) for stream, records in state.civil.items()},
        "health": {"patients": len(state.patients), "certificates": len(state.observations)},
        "housing": housing_counts,
    }
    truth = dict(manifest["truth"])
    truth["persons"] = len(state.world.persons)
    truth["records"] += len(state.truth.records)
    truth["facts"] += len(state.truth.facts)
    truth["noise"] = state.noise_total if state.noise_total is not None else truth["noise"] + len(state.truth.noise.rows)
    manifest["truth"] = truth
    manifest["cases"] = {name: manifest["cases"].get(name, 0) + state.cases_added.get(name, 0)
                         for name in {**manifest["cases"], **state.cases_added}}
    manifest["housing_files"] = {**manifest["housing_files"], **state.new_files}
    return manifest
