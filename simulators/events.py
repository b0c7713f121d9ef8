"""Life events and holdings: births, deaths, moves, marriages, assistance, properties and rentals."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from simulators.population import TODAY, Household, Person, PopulationBuilder
from simulators.regions import Address, hangzhou_address, migrant_origin


@dataclass
class Assistance:
    """A civil affairs assistance case (低保, 特困 or 高龄补贴) of one recipient."""

    case_no: int
    person_id: str
    program: str
    status: str  # 在保 / 停保
    start_date: date
    end_date: date | None
    monthly_amount: str


@dataclass
class Marriage:
    """A marriage or divorce registration between two people."""

    registration_no: int
    kind: str  # 结婚 / 离婚
    date: date
    party_ids: tuple[str, str]


@dataclass
class Property:
    """A property registration (one row per right holder)."""

    certificate_no: int
    unit_no: str
    person_id: str
    address: str
    area: str
    registration_date: date
    co_ownership: str


@dataclass
class Rental:
    """A rental filing (房屋租赁备案) by one tenant."""

    filing_no: int
    person_id: str
    address: str
    filing_date: date
    expiry_date: date
    record_id: str | None = None  # set for filings made while advancing the city


@dataclass
class World:
    """The true city: people, households, events and holdings, before any department sees them."""

    today: date
    persons: dict[str, Person]
    households: dict[str, Household]
    births: list[str] = field(default_factory=list)
    deaths: list[str] = field(default_factory=list)
    moves: list[str] = field(default_factory=list)
    moves_out: list[str] = field(default_factory=list)
    assistance: list[Assistance] = field(default_factory=list)
    marriages: list[Marriage] = field(default_factory=list)
    cremations: list[str] = field(default_factory=list)
    properties: list[Property] = field(default_factory=list)
    rentals: list[Rental] = field(default_factory=list)
    patients: list[str] = field(default_factory=list)
    planted: dict[str, list] = field(default_factory=dict)

    def person(self, person_id: str) -> Person:
        return self.persons[person_id]


def at_least(count: float, minimum: int) -> int:
    """A planted-case count: the share, but never fewer than `minimum` so small cities have every case."""
    return max(minimum, round(count))


def random_day(rng: random.Random, start: date, end: date) -> date:
    """A day between start and end inclusive."""
    return start + timedelta(days=rng.randint(0, max(0, (end - start).days)))


def plant_moves_out(world: World, rng: random.Random) -> None:
    """A few local households moved their hukou out of the city (迁出): cancelled in the register, living elsewhere."""
    keep = set(world.planted.get("lone_elders", []))
    recent = world.today - timedelta(days=366)
    local = [h for h in world.households.values() if not h.is_migrant and not keep.intersection(h.member_ids)
             and all(world.persons[pid].birth_date < recent for pid in h.member_ids)]
    for household in rng.sample(local, min(len(local), at_least(len(local) * 0.005, 1))):
        destination = migrant_origin(rng)
        left_on = random_day(rng, world.today - timedelta(days=330), world.today - timedelta(days=5))
        for person_id in household.member_ids:
            person = world.persons[person_id]
            if person.birth_date >= left_on:
                continue
            person.moved_out_date = left_on
            person.previous_address = person.current_address
            person.current_address, person.current_admin_code = destination.text, destination.admin_code
            world.moves_out.append(person_id)


def plant_deaths(world: World, rng: random.Random) -> None:
    """About 0.8% died in the last year, mostly the old; some deaths never reached the hukou register."""
    keep = set(world.planted.get("lone_elders", []))
    candidates = [p for p in world.persons.values() if p.age_on() >= 45 and p.person_id not in keep and not p.moved_out_date]
    weights = [max(1, p.age_on() - 55) ** 2 for p in candidates]
    target = at_least(len(world.persons) * 0.008, 6)
    chosen: dict[str, Person] = {}
    while len(chosen) < min(target, len(candidates)):
        person = rng.choices(candidates, weights=weights)[0]
        chosen[person.person_id] = person
    for person in chosen.values():
        person.death_date = world.today - timedelta(days=rng.randint(3, 360))
        if person.spouse_id and world.persons[person.spouse_id].alive:
            world.persons[person.spouse_id].marital_status = "widowed"
        world.deaths.append(person.person_id)
    local_old = [pid for pid in world.deaths if not world.persons[pid].is_migrant and (world.today - world.persons[pid].death_date).days > 20]
    for person_id in rng.sample(local_old, min(len(local_old), at_least(len(local_old) * 0.12, 2))):
        world.persons[person_id].death_in_hukou = False
    world.planted["death_not_in_hukou"] = [pid for pid in world.deaths if not world.persons[pid].death_in_hukou]


def plant_births(world: World, rng: random.Random) -> None:
    """Newborns of the last year; some older than 30 days are still not registered in a hukou."""
    world.births = [p.person_id for p in world.persons.values() if p.alive and (world.today - p.birth_date).days <= 365]
    eligible = [pid for pid in world.births if not world.persons[pid].is_migrant and (world.today - world.persons[pid].birth_date).days > 45]
    for person_id in rng.sample(eligible, min(len(eligible), at_least(len(eligible) * 0.1, 2))):
        world.persons[person_id].hukou_registered = False
    world.planted["newborn_without_hukou"] = [pid for pid in eligible if not world.persons[pid].hukou_registered]


def plant_moves(world: World, rng: random.Random) -> None:
    """Some local households moved within the city this year; hukou follows, other departments lag."""
    local = [h for h in world.households.values() if not h.is_migrant]
    for household in rng.sample(local, round(len(local) * 0.04)):
        old = household.address
        household.address = hangzhou_address(rng)
        moved_on = random_day(rng, world.today - timedelta(days=330), world.today - timedelta(days=5))
        for person_id in household.member_ids:
            person = world.persons[person_id]
            if person.birth_date >= moved_on:
                continue
            person.previous_address = old.text
            person.moved_in_date = moved_on
            person.hukou_address, person.hukou_admin_code = household.address.text, household.address.admin_code
            person.current_address, person.current_admin_code = household.address.text, household.address.admin_code
            world.moves.append(person_id)
        for person_id in household.member_ids:  # a baby born after the move was registered at the new address
            person = world.persons[person_id]
            if person.birth_date >= moved_on:
                person.hukou_address, person.hukou_admin_code = household.address.text, household.address.admin_code
                person.current_address, person.current_admin_code = household.address.text, household.address.admin_code


def plant_assistance(world: World, rng: random.Random) -> None:
    """低保 for poor households, 特困 for some lonely elders, 高龄补贴 for most people aged 80+."""
    serial = 0

    def add(person: Person, program: str, start: date, amount: str) -> Assistance:
        nonlocal serial
        serial += 1
        status, end = "在保", None
        if person.death_date:
            status, end = "停保", person.death_date + timedelta(days=rng.randint(5, 40))
            end = min(end, world.today)
        elif rng.random() < 0.08:
            status, end = "停保", random_day(rng, start, world.today)
        case = Assistance(serial, person.person_id, program, status, start, end, amount)
        world.assistance.append(case)
        return case

    local = [h for h in world.households.values() if not h.is_migrant]
    dibao_households = rng.sample(local, at_least(len(local) * 0.025, 4))
    world.planted["dibao"] = []
    for household in dibao_households:
        adults = [world.persons[pid] for pid in household.member_ids if world.persons[pid].age_on() >= 18]
        if not adults:
            continue
        head = adults[0]
        start = random_day(rng, date(2016, 1, 1), world.today - timedelta(days=30))
        case = add(head, "低保", start, f"{1245 * len(household.member_ids):.2f}")
        world.planted["dibao"].append(case.case_no)
    for person in world.persons.values():
        if person.is_migrant or person.age_on() < 80:
            continue
        if rng.random() < 0.75:
            eightieth = person.birth_date.replace(year=person.birth_date.year + 80) if not (person.birth_date.month == 2 and person.birth_date.day == 29) else date(person.birth_date.year + 80, 3, 1)
            amount = "100.00" if person.age_on() < 90 else ("200.00" if person.age_on() < 100 else "500.00")
            add(person, "高龄补贴", max(eightieth, date(2012, 1, 1)), amount)
        elif person.spouse_id is None and person.age_on() >= 85 and rng.random() < 0.2:
            add(person, "特困", random_day(rng, date(2018, 1, 1), world.today - timedelta(days=60)), "1620.00")
    # Benefits still paid after death: the payment was never stopped.
    stopped_after_death = [c for c in world.assistance if world.persons[c.person_id].death_date and c.status == "停保"]
    if len(stopped_after_death) < 2:  # a small city may have no deceased recipient yet: enrol some before death
        helped = {c.person_id for c in world.assistance}
        for person_id in [pid for pid in world.deaths if pid not in helped and not world.persons[pid].is_migrant][: 2 - len(stopped_after_death)]:
            person = world.persons[person_id]
            stopped_after_death.append(add(person, "低保", random_day(rng, date(2018, 1, 1), person.death_date - timedelta(days=30)), "1245.00"))
    keep_paying = rng.sample(stopped_after_death, min(len(stopped_after_death), at_least(len(stopped_after_death) * 0.3, 2)))
    for case in keep_paying:
        case.status, case.end_date = "在保", None
    world.planted["benefits_after_death"] = [c.case_no for c in keep_paying]


def plant_marriages(world: World, rng: random.Random) -> None:
    """Registrations for couples married in the digitised era, and a few divorces."""
    serial = 0
    seen: set[str] = set()
    for person in world.persons.values():
        if person.gender != "M" or not person.spouse_id or person.person_id in seen:
            continue
        wife = world.persons[person.spouse_id]
        seen.add(person.person_id)
        if wife.age_on() > 55 or rng.random() > 0.45:
            continue
        earliest = max(date(2003, 10, 1), wife.birth_date + timedelta(days=20 * 366), person.birth_date + timedelta(days=22 * 366))
        if earliest >= world.today:
            continue
        serial += 1
        world.marriages.append(Marriage(serial, "结婚", random_day(rng, earliest, world.today - timedelta(days=7)), (person.person_id, wife.person_id)))
    divorced_men = [p for p in world.persons.values() if p.marital_status == "divorced" and p.gender == "M"]
    divorced_women = [p for p in world.persons.values() if p.marital_status == "divorced" and p.gender == "F"]
    for man, woman in list(zip(divorced_men, divorced_women))[: max(1, len(divorced_men) // 3)]:
        serial += 1
        world.marriages.append(Marriage(serial, "离婚", random_day(rng, date(2010, 1, 1), world.today - timedelta(days=30)), (man.person_id, woman.person_id)))


def plant_properties(world: World, rng: random.Random) -> None:
    """Homes owned by households, second homes, and 低保 recipients who hold several properties."""
    serial = 0

    def register(owners: list[Person], address: Address, when: date) -> None:
        nonlocal serial
        unit = f"{address.admin_code}{rng.randrange(10**6):06d}GB{rng.randrange(10**5):05d}F{rng.randrange(10**8):08d}"
        area = f"{rng.uniform(38, 180):.2f}"
        sharing = "单独所有" if len(owners) == 1 else "共同共有"
        for owner in owners:
            serial += 1
            world.properties.append(Property(serial, unit, owner.person_id, address.text, area, when, sharing))

    def owners_of(household: Household) -> list[Person]:
        adults = [world.persons[pid] for pid in household.member_ids if world.persons[pid].age_on() >= 22]
        if not adults:
            return []
        head = adults[0]
        spouse = world.persons.get(head.spouse_id) if head.spouse_id else None
        return [head, spouse] if spouse and spouse.household_id == household.household_id and rng.random() < 0.6 else [head]

    for household in world.households.values():
        owners = owners_of(household)
        if not owners or rng.random() > (0.05 if household.is_migrant else 0.65):
            continue
        first = random_day(rng, date(2005, 1, 1), world.today - timedelta(days=10))
        register(owners, household.address if not household.is_migrant else hangzhou_address(rng), first)
        if rng.random() < 0.1:
            for _ in range(rng.randint(1, 2)):
                register(owners, hangzhou_address(rng), random_day(rng, first, world.today - timedelta(days=5)))
    dibao_people = {c.person_id: c.case_no for c in world.assistance if c.program == "低保"}
    holdings: dict[str, int] = {}
    for item in world.properties:
        holdings[item.person_id] = holdings.get(item.person_id, 0) + 1
    candidates = [pid for pid in dibao_people if holdings.get(pid, 0) < 2]
    for person_id in rng.sample(candidates, min(len(candidates), at_least(len(dibao_people) * 0.08, 2))):
        for _ in range(rng.randint(2, 3) - holdings.get(person_id, 0)):
            register([world.persons[person_id]], hangzhou_address(rng), random_day(rng, date(2012, 1, 1), world.today - timedelta(days=10)))
    counts: dict[str, int] = {}
    for item in world.properties:
        counts[item.person_id] = counts.get(item.person_id, 0) + 1
    world.planted["subsistence_multi_property"] = [pid for pid in dibao_people if counts.get(pid, 0) >= 2]


def plant_rentals(world: World, rng: random.Random) -> None:
    """Rental filings: most migrant households, a few locals renting elsewhere in the city."""
    serial = 0
    for household in world.households.values():
        adults = [world.persons[pid] for pid in household.member_ids if world.persons[pid].age_on() >= 18 and world.persons[pid].alive]
        if not adults or rng.random() > (0.8 if household.is_migrant else 0.03):
            continue
        tenants = adults[:2] if household.is_migrant and rng.random() < 0.3 else adults[:1]
        address = household.address.text if household.is_migrant else hangzhou_address(rng).text
        filed = random_day(rng, world.today - timedelta(days=700), world.today - timedelta(days=3))
        for tenant in tenants:
            serial += 1
            world.rentals.append(Rental(serial, tenant.person_id, address, filed, filed + timedelta(days=rng.choice((182, 365, 730)))))


def choose_patients(world: World, rng: random.Random) -> None:
    """Who the health system knows: newborns and their mothers, the deceased, and a share of everyone."""
    chosen: dict[str, None] = {}
    for person_id in world.births:
        mother = world.persons[person_id].mother_id
        if mother:
            chosen[mother] = None
        chosen[person_id] = None
    for person_id in world.deaths:
        chosen[person_id] = None
    for person in world.persons.values():
        if rng.random() < 0.2:
            chosen[person.person_id] = None
    # A parent's number written on a child's patient record (children under 14 with a registered parent).
    children = [p for p in world.persons.values() if p.age_on(world.today) < 14 and (p.mother_id or p.father_id)
                and p.hukou_registered and not p.is_migrant]
    in_patients = [p for p in children if p.person_id in chosen]
    wanted = at_least(len(in_patients) * 0.03, 2)
    if len(in_patients) < wanted:
        extra = [p for p in children if p.person_id not in chosen]
        for person in rng.sample(extra, min(len(extra), wanted - len(in_patients))):
            chosen[person.person_id] = None
            in_patients.append(person)
    world.planted["parent_id_on_child"] = sorted(p.person_id for p in rng.sample(in_patients, min(wanted, len(in_patients))))
    world.patients = sorted(chosen)


def build_world(residents: int, rng: random.Random, today: date = TODAY) -> World:
    """The whole true city, from households to holdings."""
    builder = PopulationBuilder(rng, today)
    builder.build(residents)
    world = World(today=today, persons=builder.persons, households=builder.households)
    world.planted["lone_elders"] = list(builder.lone_elder_ids)
    plant_moves(world, rng)
    plant_moves_out(world, rng)
    plant_deaths(world, rng)
    plant_births(world, rng)
    plant_assistance(world, rng)
    plant_marriages(world, rng)
    world.cremations = [pid for pid in world.deaths if rng.random() < 0.92]
    plant_properties(world, rng)
    plant_rentals(world, rng)
    choose_patients(world, rng)
    return world
