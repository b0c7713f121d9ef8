"""A day's change set sized as a share of the source person records, of the kinds departments really produce.

`advance_city(..., change_share=0.01)` uses this instead of the fixed handful of daily events, so an
incremental run can be measured after a realistic 1% change set on a large city. Each kind of change
goes through the department and protocol that really produces it: hukou register rows are updated in
its SQL database (batched, later `updated_at`), civil affairs and health records get later update
times in the JSON their HTTP systems serve, and housing sends a new daily drop file. The truth files
stay exact: new records are noted, every planted error is logged (including addresses and phones
left stale by a move or a new number) and a department's correction retracts the error it fixes.

Each person is changed by at most one kind of change per advance, so no change undoes another and a
noise row never describes a value that was later overwritten.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Callable, Iterable, Iterator

import sqlalchemy as sa

from simulators.advance import surname_of
from simulators.departments import civil_affairs, health, housing, public_security
from simulators.departments.common import (RenderContext, fmt_compact, fmt_fhir_instant, fmt_iso, fmt_iso_timestamp, fmt_slash,
                                            fmt_timestamp, record_key)
from simulators.events import Property, Rental, World
from simulators.idnumber import unused_id_number
from simulators.names import pick_given_name
from simulators.population import MOBILE_PREFIXES, Person
from simulators.readback import read_property_file, read_rental_file
from simulators.regions import hangzhou_address
from simulators.truth import read_csv

# Share of a change set each kind takes, in changed records. Contact details and corrections dominate
# what departments send day to day; life events are rarer; new duplicates are a steady trickle.
KIND_WEIGHTS = (
    ("deaths", 0.05),
    ("births", 0.05),
    ("moves", 0.14),
    ("phone_changes", 0.18),
    ("corrections", 0.16),
    ("new_patients", 0.12),
    ("new_assistance", 0.06),
    ("new_properties", 0.09),
    ("new_rentals", 0.09),
    ("duplicates", 0.06),
)
KINDS = tuple(kind for kind, _ in KIND_WEIGHTS)
# Kinds with the largest pools of candidates make up for a kind that ran out (no noise left to correct in a
# clean city, no old residents in a young one), so the share is met whatever the city.
TOP_UP_KINDS = ("phone_changes", "new_patients", "new_properties")

# Errors a department fixes when a record is verified against the register or the person's card:
# the ones that break matching. Cosmetic ones (a lowercase x, spaces) are left as typed.
CORRECTABLE_NOISE = ("id_missing", "id_typo", "id_transposition", "id_legacy15", "id_excel", "date_swap",
                     "name_homophone", "name_traditional")
PHONE_FIELDS = {("public_security", "persons"): "lxdh", ("civil_affairs", "assistance"): "phone",
                ("health", "patients"): "telecom", ("housing", "rental"): "联系电话"}
ADDRESS_FIELDS = {("civil_affairs", "assistance"): "address", ("health", "patients"): "address"}
FHIR_FIELDS = {"identifier": ("value", {"system": health.ID_SYSTEM}), "name": ("text", {}), "telecom": ("value", {"system": "phone"}),
               "address": ("text", {})}
CIVIL_ID_FIELDS = {"assistance": "caseId", "marriages": "partyId", "cremations": "recordId"}
HOUSING_ID_FIELDS = {"property": "登记编号", "rental": "备案号"}
ADVANCED_CERTIFICATE_BASE = 9_000_000  # as in advance.housing_drop: above every generated certificate number


def check_share(share: float) -> float:
    """The share itself, or a ValueError naming the allowed range."""
    if not 0 < share <= 1:
        raise ValueError(f"change_share must be a fraction in (0, 1], e.g. 0.01 for 1%; got {share}")
    return share


def kind_budgets(target: int) -> dict[str, int]:
    """Changed records wanted per kind: the kind's share of `target`, at least one so every kind occurs."""
    return {kind: max(1, round(weight * target)) for kind, weight in KIND_WEIGHTS}


def random_order(rng: random.Random, items: Iterable) -> Iterator:
    """The items in random order, shuffled lazily so taking a few of a million costs a few draws."""
    pool = list(items)
    for i in range(len(pool)):
        j = rng.randrange(i, len(pool))
        pool[i], pool[j] = pool[j], pool[i]
        yield pool[i]


def split_key(key: str) -> tuple[str, str, str]:
    """(source, stream, source_record_id) of a record key."""
    source, stream, record_id = key.split(":", 2)
    return source, stream, record_id


def max_number(ids: Iterable[str], prefix: str) -> int:
    """The highest number of a `<prefix><digits>` id family (0 if none)."""
    return max((int(i[len(prefix):]) for i in ids if i.startswith(prefix) and i[len(prefix):].isdigit()), default=0)


def update_in_batches(connection, table: sa.Table, key: str, changes: dict[str, dict]) -> None:
    """UPDATE rows by primary key, one executemany per set of changed columns (never one round trip per row)."""
    groups: dict[tuple[str, ...], list[dict]] = {}
    for row_id, values in changes.items():
        columns = tuple(sorted(values))
        groups.setdefault(columns, []).append({"_key": row_id, **{f"_{c}": values[c] for c in columns}})
    for columns, params in groups.items():
        # bind names differ from the column names: SQLAlchemy reserves those for the SET clause
        statement = sa.update(table).where(table.c[key] == sa.bindparam("_key")).values({c: sa.bindparam(f"_{c}") for c in columns})
        connection.execute(statement, params)


class RegisterWrites:
    """The hukou register's changes of one day, gathered in memory and written in a few batched statements."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        with engine.connect() as connection:
            last_rkid = connection.execute(sa.select(sa.func.max(public_security.rk_person.c.rkid))).scalar() or "RK0"
            last_sjid = connection.execute(sa.select(sa.func.max(public_security.rk_event.c.sjid))).scalar() or "SJ0"
        self.last_rkid, self.last_sjid = int(last_rkid[2:]), int(last_sjid[2:])
        self.persons: list[dict] = []
        self.events: list[dict] = []
        self.person_changes: dict[str, dict] = {}
        self.household_changes: dict[str, dict] = {}

    def new_rkid(self) -> str:
        self.last_rkid += 1
        return f"RK{self.last_rkid:010d}"

    def add_event(self, rkid: str, kind: str, day: date, note: str, updated: str) -> str:
        self.last_sjid += 1
        sjid = f"SJ{self.last_sjid:010d}"
        self.events.append({"sjid": sjid, "rkid": rkid, "sjlx": kind, "sjrq": fmt_compact(day), "sjms": note, "updated_at": updated})
        return sjid

    def change_person(self, rkid: str, **values) -> None:
        self.person_changes.setdefault(rkid, {}).update(values)

    def change_household(self, household_no: str, **values) -> None:
        self.household_changes.setdefault(household_no, {}).update(values)

    def write(self) -> None:
        """Insert the new rows and apply the updates in one transaction, then start over."""
        with self.engine.begin() as connection:
            if self.persons:
                connection.execute(public_security.rk_person.insert(), self.persons)
            if self.events:
                connection.execute(public_security.rk_event.insert(), self.events)
            update_in_batches(connection, public_security.rk_person, "rkid", self.person_changes)
            update_in_batches(connection, public_security.rk_household, "hh", self.household_changes)
        self.persons, self.events, self.person_changes, self.household_changes = [], [], {}, {}


class ChangeSet:
    """Indexes over a loaded city and the change kinds that use them; one instance per advance."""

    def __init__(self, state):
        self.state = state
        self.register = RegisterWrites(state.engine)
        self.persons: dict[str, Person] = state.world.persons
        self.touched: set[str] = set()
        self.changed: dict[str, set[str]] = {kind: set() for kind in KINDS}
        self.facts = {"hukou_events": 0, "certificates": 0, "households_moved": 0}
        self.source_records = sum(len(ids) for ids in state.keys.values())
        self.person_of = {record_key(s, st, i): pid for (s, st, pid), ids in state.keys.items() for i in ids}
        self.civil = {stream: {str(r[field]): r for r in state.civil[stream]} for stream, field in CIVIL_ID_FIELDS.items()}
        self.patients = {r["id"]: r for r in state.patients}
        self.members: dict[str, list[str]] = {}
        for person in self.persons.values():
            self.members.setdefault(person.household_id, []).append(person.person_id)
        self.used_numbers = {p.id_number for p in self.persons.values()}
        self.last_person = max(int(pid[1:]) for pid in self.persons)
        self.last_patient = max_number(self.patients, "pat-")
        self.last_observation = max_number((r["id"] for r in state.observations), "obs-")
        self.last_case = max_number(self.civil["assistance"], "MZJZ")
        self.last_cremation = max_number(self.civil["cremations"], "BZ")
        self.dibao = {self.person_of[record_key("civil_affairs", "assistance", i)] for i, r in self.civil["assistance"].items()
                      if r["program"] == "低保" and record_key("civil_affairs", "assistance", i) in self.person_of}
        self.property_count: dict[str, int] = {pid: len(ids) for (s, st, pid), ids in state.keys.items() if (s, st) == ("housing", "property")}
        self.correctable_noise = [row for row in read_csv(state.city_dir / "truth" / "noise.csv") if row["kind"] in CORRECTABLE_NOISE]
        self._housing_rows: dict[str, dict[str, dict]] = {}
        self._residents: list[Person] = []
        self.kind = KINDS[0]

    # -- bookkeeping -----------------------------------------------------------------------
    def begin_day(self, rng: random.Random) -> None:
        self.ctx = RenderContext(rng, self.state.profile, self.state.truth, self.state.today)
        self.rng = rng
        self.today = self.state.today
        self.noiser = self.ctx.noiser()
        self.register_noiser = self.ctx.noiser(scale=self.state.profile.authority_scale)
        self.housing_rows = housing.HousingRows()
        self.new_housing = {"property": 0, "rental": 0}
        # One pass over everyone per day; each kind then filters this shorter list.
        self._residents = [p for p in self.persons.values() if self.free(p)]

    def now(self):
        """An update time during the simulated today: later than anything an earlier day wrote."""
        return self.ctx.updated_at(not_before=self.today)

    def mark(self, source: str, stream: str, record_id: str) -> str:
        key = record_key(source, stream, record_id)
        self.changed[self.kind].add(key)
        return key

    def note_record(self, source: str, stream: str, record_id: str, person_id: str) -> str:
        """A new person record: into the truth, the per-person index and the day's changes."""
        self.state.note_record(source, stream, record_id, person_id)
        self.person_of[record_key(source, stream, record_id)] = person_id
        return self.mark(source, stream, record_id)

    def adopt_rendered(self, start: int) -> list[str]:
        """Index and mark the records a department renderer noted in the truth itself since `start`."""
        keys = []
        for source, stream, record_id, person_id in self.state.truth.records[start:]:
            self.state.keys.setdefault((source, stream, person_id), []).append(record_id)
            self.person_of[record_key(source, stream, record_id)] = person_id
            keys.append(self.mark(source, stream, record_id))
        return keys

    def records_of(self, person: Person, source: str, stream: str) -> list[str]:
        return self.state.keys.get((source, stream, person.person_id), [])

    def free(self, person: Person) -> bool:
        """Alive, still in the city, not part of a planted case and not yet changed in this advance."""
        return (person.alive and not person.moved_out_date and person.person_id not in self.state.protected
                and person.person_id not in self.touched)

    def fill(self, kind: str, budget: int, candidates: Iterable, change_one: Callable[[object], None],
             still_eligible: Callable[[object], bool] = lambda _: True) -> None:
        """Apply `change_one` to random candidates until the kind has changed `budget` records or none is left."""
        self.kind = kind
        wanted = len(self.changed[kind]) + budget
        for candidate in random_order(self.rng, candidates):
            if len(self.changed[kind]) >= wanted:
                break
            if still_eligible(candidate):
                change_one(candidate)

    def living_people(self, predicate: Callable[[Person], bool]) -> list[Person]:
        """Residents still free to change today who match `predicate`, in id order (so runs repeat)."""
        return [p for p in self._residents if p.person_id not in self.touched and p.alive and predicate(p)]

    # -- department write paths ----------------------------------------------------------------
    def touch_civil(self, record: dict) -> None:
        record["updatedAt"] = fmt_iso_timestamp(self.now())

    def touch_patient(self, resource: dict) -> None:
        resource["meta"] = {"lastUpdated": fmt_fhir_instant(self.now())}

    def new_patient(self, person: Person) -> str:
        """A Patient resource for a person the health system meets for the first time, noised as generation does."""
        self.last_patient += 1
        patient_id = f"pat-{self.last_patient:06d}"
        start = len(self.state.truth.records)
        resource = health.patient_resource(self.ctx, self.noiser, self.state.world, person, patient_id)
        self.touch_patient(resource)
        self.state.patients.append(resource)
        self.patients[patient_id] = resource
        self.adopt_rendered(start)
        return patient_id

    def new_register_row(self, person: Person) -> str:
        """A new rk_person row with the register's light noise."""
        rkid = self.register.new_rkid()
        self.register.persons.append(public_security.person_row(self.ctx, self.register_noiser, person, rkid, self.now()))
        self.note_record("public_security", "persons", rkid, person.person_id)
        return rkid

    def add_register_event(self, rkid: str, kind: str, note: str, person: Person) -> None:
        sjid = self.register.add_event(rkid, kind, self.today, note, fmt_timestamp(self.now()))
        self.state.truth.fact("public_security", "hukou_events", sjid, record_key("public_security", "persons", rkid), person.person_id)
        self.facts["hukou_events"] += 1

    def add_certificate(self, person: Person, kind: str, when: date) -> None:
        """A birth or death certificate Observation about the person's (first or new) Patient."""
        patient_id = self.state.first_key("health", "patients", person.person_id)
        if patient_id is None:
            patient_id = self.new_patient(person)
        elif person.death_date:
            resource = self.patients[patient_id]
            resource["deceasedDateTime"] = fmt_iso(person.death_date)
            self.touch_patient(resource)
            self.mark("health", "patients", patient_id)
        self.last_observation += 1
        obs_id = f"obs-{self.last_observation:06d}"
        letter = "Q" if kind == "birth-certificate" else "S"
        observation = health.certificate(self.ctx, obs_id, kind, patient_id, when,
                                         f"{letter}{person.current_admin_code[:4]}{self.rng.randrange(10**6):06d}")
        self.touch_patient(observation)
        self.state.observations.append(observation)
        self.state.truth.fact("health", "certificates", obs_id, record_key("health", "patients", patient_id), person.person_id)
        self.facts["certificates"] += 1

    def new_assistance_record(self, person: Person, program: str, amount: str, status: str = "在保",
                              start: date | None = None, end: str | None = None) -> str:
        """A civil affairs assistance case rendered as generation renders one."""
        self.last_case += 1
        case_id = f"MZJZ{self.last_case:07d}"
        key = self.note_record("civil_affairs", "assistance", case_id, person.person_id)
        record = {
            "caseId": case_id, **civil_affairs.person_fields(self.ctx, self.noiser, key, person),
            "phone": self.noiser.phone(key, "phone", person.phone, person.old_phone),
            "address": self.noiser.address(key, "address", person.current_address, person.previous_address),
            "program": program, "status": status, "startDate": fmt_iso(start or self.today), "endDate": end,
            "monthlyAmount": amount, "updatedAt": fmt_iso_timestamp(self.now()),
        }
        self.state.civil["assistance"].append(record)
        self.civil["assistance"][case_id] = record
        return case_id

    def log_stale(self, person: Person, fields: dict[tuple[str, str], str], true_value: str, left_value: str,
                  kind: str, updated: set[str]) -> None:
        """Every record of the person that still shows the value they left behind is now a stale one: log it."""
        for (source, stream), field_name in fields.items():
            for record_id in self.records_of(person, source, stream):
                key = record_key(source, stream, record_id)
                if key not in updated:
                    self.state.truth.noise.add(key, field_name, kind, true_value, left_value)

    # -- housing drop --------------------------------------------------------------------------
    def housing_row(self, stream: str, record_id: str) -> dict:
        """The latest version of a housing row across all drop files (each stream read on first need: workbooks are slow)."""
        if stream not in self._housing_rows:
            drop = self.state.city_dir / "housing_drop"
            reader, pattern = (read_property_file, "property_*.csv") if stream == "property" else (read_rental_file, "rental_*.xlsx")
            latest: dict[str, dict] = {}
            for path in sorted(drop.glob(pattern)):
                latest.update((str(row[HOUSING_ID_FIELDS[stream]]), row) for row in reader(path))
            self._housing_rows[stream] = latest
        return self._housing_rows[stream][record_id]

    def send_housing_row(self, stream: str, row: dict, new: bool) -> None:
        """A row in today's drop file, stamped today so the file connector and its consumers see it as newest."""
        row["更新时间"] = fmt_timestamp(self.now())
        getattr(self.housing_rows, stream).append((self.today, row))
        if new:
            self.new_housing[stream] += 1
        if stream in self._housing_rows:
            self._housing_rows[stream][str(row[HOUSING_ID_FIELDS[stream]])] = row

    def write_housing_drop(self) -> None:
        """Today's property CSV and rental workbook (both written, even when empty, as the daily export does)."""
        for stream, added in self.new_housing.items():
            self.state.new_housing[stream] += added
        self.state.new_files.update(housing.write_housing(self.housing_rows, self.state.city_dir / "housing_drop", days=[self.today]))

    # -- the day -------------------------------------------------------------------------------
    def run_day(self, rng: random.Random, target: int) -> None:
        """The simulated today's changes: about `target` changed records, spread over the kinds by their weights."""
        self.begin_day(rng)
        before = self.records_changed()
        budgets = kind_budgets(target)
        for kind in KINDS:
            getattr(self, kind)(budgets[kind])
        for kind in TOP_UP_KINDS:
            missing = target - (self.records_changed() - before)
            if missing <= 0:
                break
            getattr(self, kind)(missing)
        self.register.write()
        self.write_housing_drop()

    def target(self, share: float, days: int) -> int:
        """Changed records wanted per day so that the whole advance changes `share` of the records it started with."""
        return max(1, round(share * self.source_records / days))

    def records_changed(self) -> int:
        """Distinct records new or changed so far in this advance."""
        return len(set().union(*self.changed.values()))

    def summary(self, share: float, days: int) -> dict:
        """Records changed per kind, in total and as a share of the source records before the advance."""
        total = self.records_changed()
        return {"change_share": share, "source_records": self.source_records,
                "changes": {kind: len(keys) for kind, keys in self.changed.items()}, "records_changed": total,
                "achieved_share": round(total / self.source_records, 6) if self.source_records else 0.0,
                **self.facts, "housing_files": 2 * days}

    # -- deaths ----------------------------------------------------------------------------------
    def deaths(self, budget: int) -> None:
        """Old residents died yesterday: certificate, hukou cancelled, spouse widowed, benefits stopped, cremation."""
        candidates = self.living_people(lambda p: p.hukou_registered and not p.is_migrant and p.age_on(self.today) >= 75)
        self.fill("deaths", budget, candidates, self.record_death, lambda p: self.free(p) and self.may_die(p))

    def may_die(self, person: Person) -> bool:
        others = [self.persons[pid] for pid in self.members[person.household_id] if pid != person.person_id and self.persons[pid].alive]
        # a survivor aged 80+ left alone would be an elderly-alone case the truth does not list
        return len(others) >= 2 or bool(others and all(o.age_on(self.today) < 80 for o in others))

    def record_death(self, person: Person) -> None:
        person.death_date = self.today - timedelta(days=1)
        self.touched.add(person.person_id)
        rkid = self.state.first_key("public_security", "persons", person.person_id)
        if rkid:
            self.register.change_person(rkid, hjzt="注销", updated_at=fmt_timestamp(self.now()))
            self.mark("public_security", "persons", rkid)
            self.add_register_event(rkid, "死亡注销", "死亡注销户口", person)
        spouse = self.persons.get(person.spouse_id) if person.spouse_id else None
        if spouse and spouse.alive:
            spouse.marital_status = "widowed"
            self.touched.add(spouse.person_id)
            spouse_rkid = self.state.first_key("public_security", "persons", spouse.person_id)
            if spouse_rkid:
                self.register.change_person(spouse_rkid, hyzk=public_security.MARITAL_CODES["widowed"], updated_at=fmt_timestamp(self.now()))
                self.mark("public_security", "persons", spouse_rkid)
        self.add_certificate(person, "death-certificate", person.death_date)
        self.stop_assistance(person)
        if self.rng.random() < 0.92:  # as generated: a few are buried or cremated outside the city
            self.add_cremation(person)

    def stop_assistance(self, person: Person) -> None:
        for case_id in self.records_of(person, "civil_affairs", "assistance"):
            record = self.civil["assistance"][case_id]
            if record["status"] == "在保":
                record.update(status="停保", endDate=fmt_iso(self.today))
                self.touch_civil(record)
                self.mark("civil_affairs", "assistance", case_id)

    def add_cremation(self, person: Person) -> None:
        self.last_cremation += 1
        record_id = f"BZ{self.last_cremation:07d}"
        key = self.note_record("civil_affairs", "cremations", record_id, person.person_id)
        # Not civil_affairs.person_fields: it would draw and log a birthday error for a field a cremation record lacks.
        fields = {"idCard": self.noiser.id_number(key, "idCard", person.id_number, person.birth_date),
                  "name": self.noiser.name(key, "name", person.name), "sex": civil_affairs.SEX[person.gender]}
        record = {"recordId": record_id, **fields,
                  "deathDate": self.noiser.date(key, "deathDate", person.death_date, fmt_slash), "cremationDate": fmt_iso(self.today),
                  "funeralHome": self.rng.choice(civil_affairs.FUNERAL_HOMES), "updatedAt": fmt_iso_timestamp(self.now())}
        self.state.civil["cremations"].append(record)
        self.civil["cremations"][record_id] = record

    # -- births ----------------------------------------------------------------------------------
    def births(self, budget: int) -> None:
        """Babies born yesterday to local couples: hukou registration, birth certificate, a Patient."""
        def may_mother(p: Person) -> bool:
            father = self.persons.get(p.spouse_id) if p.spouse_id else None
            return (p.gender == "F" and p.hukou_registered and not p.is_migrant and p.marital_status == "married"
                    and 22 <= p.age_on(self.today) <= 40 and father is not None and father.alive)

        self.fill("births", budget, self.living_people(may_mother), self.register_birth, self.free)

    def register_birth(self, mother: Person) -> None:
        father = self.persons[mother.spouse_id]
        gender = self.rng.choice("MF")
        born = self.today - timedelta(days=1)
        number = self.unique_id_number(mother.hukou_admin_code, born, gender)
        self.last_person += 1
        baby = Person(person_id=f"P{self.last_person:06d}", id_number=number, name=surname_of(father) + pick_given_name(self.rng, gender),
                      gender=gender, birth_date=born, ethnicity=father.ethnicity, marital_status="unmarried", phone=None,
                      household_id=mother.household_id, hukou_address=mother.hukou_address, hukou_admin_code=mother.hukou_admin_code,
                      current_address=mother.current_address, current_admin_code=mother.current_admin_code,
                      mother_id=mother.person_id, father_id=father.person_id)
        self.persons[baby.person_id] = baby
        self.members[baby.household_id].append(baby.person_id)
        self.touched.update((mother.person_id, baby.person_id))
        rkid = self.new_register_row(baby)
        self.add_register_event(rkid, "出生登记", "新生儿出生登记", baby)
        self.add_certificate(baby, "birth-certificate", born)

    def unique_id_number(self, region: str, born: date, gender: str) -> str:
        return unused_id_number(self.rng, self.used_numbers, region, born, gender)

    # -- moves ------------------------------------------------------------------------------------
    def moves(self, budget: int) -> None:
        """Local households moved within the city: hukou follows (register), health updates, others go stale."""
        households = [hh for hh, ids in self.members.items() if self.may_move(ids)]
        self.fill("moves", budget, households, self.move_household, lambda hh: self.may_move(self.members[hh]))

    def may_move(self, member_ids: list[str]) -> bool:
        members = [self.persons[pid] for pid in member_ids]
        living = [p for p in members if p.alive]
        # Never moved before: each of their records shows the current address, so what goes stale is known exactly.
        return bool(living) and all(not p.is_migrant and p.hukou_registered and self.free(p) and not p.previous_address for p in living)

    def move_household(self, household_no: str) -> None:
        living = [self.persons[pid] for pid in self.members[household_no] if self.persons[pid].alive]
        old = living[0].current_address
        new = hangzhou_address(self.rng)
        while new.text == old:
            new = hangzhou_address(self.rng)
        updated_at = fmt_timestamp(self.now())
        self.register.change_household(household_no, hjdz=new.text, xzqh=new.admin_code, updated_at=updated_at)
        self.facts["households_moved"] += 1
        for person in living:
            self.move_person(person, new)

    def move_person(self, person, new) -> None:
        self.touched.add(person.person_id)
        person.previous_address, person.moved_in_date = person.current_address, self.today
        person.hukou_address, person.hukou_admin_code = new.text, new.admin_code
        person.current_address, person.current_admin_code = new.text, new.admin_code
        updated: set[str] = set()
        rkids = self.records_of(person, "public_security", "persons")
        for rkid in rkids:  # the register moves the whole household number, duplicates included
            self.register.change_person(rkid, hjdz=new.text, updated_at=fmt_timestamp(self.now()))
            updated.add(self.mark("public_security", "persons", rkid))
        if rkids:
            self.add_register_event(rkids[0], "迁入", f"市内迁入 {new.text}", person)
        patient_id = self.state.first_key("health", "patients", person.person_id)
        if patient_id:
            resource = self.patients[patient_id]
            resource["address"] = [{"text": new.text}]
            self.touch_patient(resource)
            updated.add(self.mark("health", "patients", patient_id))
        self.log_stale(person, ADDRESS_FIELDS, new.text, person.previous_address, "stale_address", updated)

    # -- phone changes ------------------------------------------------------------------------------
    def phone_changes(self, budget: int) -> None:
        """Residents report a new mobile number to one department; their other records keep the old one."""
        def may_change(p: Person) -> bool:
            # With no older number on file anywhere, every record shows `phone`, so what goes stale is known exactly.
            return bool(p.phone) and not p.old_phone and bool(self.phone_departments(p))

        self.fill("phone_changes", budget, self.living_people(may_change), self.change_phone, self.free)

    def phone_departments(self, person: Person) -> list[tuple[str, str, int]]:
        """Where the person could report a new number, with how often people go there for it."""
        options = [("public_security", "persons", 6), ("health", "patients", 3), ("civil_affairs", "assistance", 1)]
        return [option for option in options if self.records_of(person, option[0], option[1])]

    def change_phone(self, person: Person) -> None:
        self.touched.add(person.person_id)
        options = self.phone_departments(person)
        source, stream, _ = self.rng.choices(options, weights=[w for *_, w in options])[0]
        new_phone = person.phone
        while new_phone in (person.phone, None):
            new_phone = self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
        person.old_phone, person.phone = person.phone, new_phone
        record_id = self.records_of(person, source, stream)[0]
        if source == "public_security":
            self.register.change_person(record_id, lxdh=new_phone, updated_at=fmt_timestamp(self.now()))
        elif source == "health":
            resource = self.patients[record_id]
            resource["telecom"] = [{"system": "phone", "value": new_phone}]
            self.touch_patient(resource)
        else:
            record = self.civil["assistance"][record_id]
            record["phone"] = new_phone
            self.touch_civil(record)
        updated = {self.mark(source, stream, record_id)}
        self.log_stale(person, PHONE_FIELDS, new_phone, person.old_phone, "stale_phone", updated)

    # -- corrections --------------------------------------------------------------------------------
    def corrections(self, budget: int) -> None:
        """Departments fix an earlier entry error (ID number, name, birth date) on verification."""
        def eligible(entry: dict) -> bool:
            person = self.persons.get(self.person_of.get(entry["record_key"], ""))
            return person is not None and self.free(person) and self.carries(entry["record_key"], entry["field"])

        self.fill("corrections", budget, [e for e in self.correctable_noise if eligible(e)], self.correct, eligible)

    def carries(self, key: str, field_name: str) -> bool:
        """Whether the record has the field at all: generation logs a birthday error on cremation records, which have none."""
        source, stream, record_id = split_key(key)
        return source != "civil_affairs" or field_name in self.civil[stream].get(record_id, {})

    def correct(self, entry: dict) -> None:
        key, field_name, value = entry["record_key"], entry["field"], entry["true_value"]
        source, stream, record_id = split_key(key)
        self.touched.add(self.person_of[key])
        if source == "public_security":
            self.register.change_person(record_id, **{field_name: value, "updated_at": fmt_timestamp(self.now())})
        elif source == "civil_affairs":
            record = self.civil[stream][record_id]
            record[field_name] = value
            self.touch_civil(record)
        elif source == "health":
            resource = self.patients[record_id]
            set_fhir_field(resource, field_name, value)
            self.touch_patient(resource)
        else:
            row = dict(self.housing_row(stream, record_id))
            row[field_name] = value
            self.send_housing_row(stream, row, new=False)
        self.state.retracted_noise.add((key, field_name))
        self.mark(source, stream, record_id)

    # -- new records of existing people --------------------------------------------------------------
    def new_patients(self, budget: int) -> None:
        """People the health system meets for the first time (a clinic visit, a check-up)."""
        candidates = self.living_people(lambda p: not self.records_of(p, "health", "patients"))
        self.fill("new_patients", budget, candidates, self.first_visit, self.free)

    def first_visit(self, person: Person) -> None:
        self.touched.add(person.person_id)
        self.new_patient(person)

    def new_assistance(self, budget: int) -> None:
        """New cases: an old-age allowance for people aged 80+, subsistence (低保) for local adults."""
        def eligible(p: Person) -> bool:
            return not p.is_migrant and p.hukou_registered and p.age_on(self.today) >= 18 and self.assistance_program(p) is not None

        self.fill("new_assistance", budget, self.living_people(eligible), self.enrol, self.free)

    def programs_of(self, person: Person) -> set[str]:
        return {self.civil["assistance"][i]["program"] for i in self.records_of(person, "civil_affairs", "assistance")}

    def assistance_program(self, person: Person) -> tuple[str, str] | None:
        """The program a person would newly qualify for and its monthly amount, if any."""
        programs = self.programs_of(person)
        if person.age_on(self.today) >= 80 and "高龄补贴" not in programs:
            age = person.age_on(self.today)
            return "高龄补贴", "100.00" if age < 90 else ("200.00" if age < 100 else "500.00")
        # a property holder would be a subsistence-with-several-properties case the truth does not list
        if "低保" not in programs and self.property_count.get(person.person_id, 0) == 0:
            household = [pid for pid in self.members[person.household_id] if self.persons[pid].alive]
            return "低保", f"{1245 * len(household):.2f}"
        return None

    def enrol(self, person: Person) -> None:
        program, amount = self.assistance_program(person)
        self.touched.add(person.person_id)
        self.new_assistance_record(person, program, amount)
        if program == "低保":
            self.dibao.add(person.person_id)

    def new_properties(self, budget: int) -> None:
        """New property registrations (a purchase, sometimes held jointly with the spouse) in today's drop."""
        candidates = self.living_people(lambda p: not p.is_migrant and p.age_on(self.today) >= 22 and p.person_id not in self.dibao)
        self.fill("new_properties", budget, candidates, self.register_property, self.free)

    def register_property(self, owner: Person) -> None:
        spouse = self.persons.get(owner.spouse_id) if owner.spouse_id else None
        owners = [owner]
        joint = spouse and self.free(spouse) and spouse.household_id == owner.household_id and spouse.person_id not in self.dibao
        if joint and self.rng.random() < 0.4:
            owners.append(spouse)
        rng = self.rng
        unit = f"{owner.current_admin_code}{rng.randrange(10**6):06d}GB{rng.randrange(10**5):05d}F{rng.randrange(10**8):08d}"
        address, area = hangzhou_address(rng).text, f"{rng.uniform(38, 180):.2f}"
        sharing = "单独所有" if len(owners) == 1 else "共同共有"
        items = [Property(ADVANCED_CERTIFICATE_BASE + self.state.next_serial(), unit, o.person_id, address, area, self.today, sharing)
                 for o in owners]
        for person in owners:
            self.touched.add(person.person_id)
            self.property_count[person.person_id] = self.property_count.get(person.person_id, 0) + 1
        world = World(today=self.today, persons=self.persons, households={}, properties=items)
        self.render_housing(housing.render_property, world, "property")

    def render_housing(self, render, world: World, stream: str) -> list[str]:
        """Render new housing rows with the generator's own renderer (noise and duplicates included) into today's drop."""
        start = len(self.state.truth.records)
        rows = housing.HousingRows()
        render(world, self.ctx, rows, self.today)
        for _, row in getattr(rows, stream):
            self.send_housing_row(stream, row, new=True)
        return self.adopt_rendered(start)

    def new_rentals(self, budget: int) -> None:
        """Rental filings: mostly migrants renewing the filing of their home, a few locals renting elsewhere."""
        migrants = self.living_people(lambda p: p.is_migrant and p.age_on(self.today) >= 18)
        locals_ = self.living_people(lambda p: not p.is_migrant and p.age_on(self.today) >= 18)
        pools = (random_order(self.rng, migrants), random_order(self.rng, locals_))
        self.kind = "new_rentals"
        wanted = len(self.changed["new_rentals"]) + budget
        while len(self.changed["new_rentals"]) < wanted:
            tenant = self.next_tenant(pools)
            if tenant is None:
                break
            self.file_rental(tenant)

    def next_tenant(self, pools: tuple[Iterator, Iterator]) -> Person | None:
        """A free tenant, from the migrants 85% of the time, falling back to the other pool when one runs dry."""
        first = 0 if self.rng.random() < 0.85 else 1
        for pool in (pools[first], pools[1 - first]):
            for person in pool:
                if self.free(person):
                    return person
        return None

    def file_rental(self, tenant: Person) -> None:
        self.touched.add(tenant.person_id)
        serial = self.state.next_serial()
        address = tenant.current_address if tenant.is_migrant else hangzhou_address(self.rng).text
        # Filing numbers made while advancing carry an A so they never collide with generated ones.
        filing = Rental(serial, tenant.person_id, address, self.today, self.today + timedelta(days=self.rng.choice((182, 365, 730))),
                        record_id=f"ZL{tenant.current_admin_code}{self.today.year}A{serial:05d}")
        world = World(today=self.today, persons=self.persons, households={}, rentals=[filing])
        keys = self.render_housing(housing.render_rental, world, "rental")
        if tenant.is_migrant:
            self.state.new_cases.setdefault("floating_population", []).append(
                {"person_ids": [tenant.person_id], "hukou_admin_code": tenant.hukou_admin_code, "record_keys": keys})

    # -- duplicates ------------------------------------------------------------------------------------
    def duplicates(self, budget: int) -> None:
        """The same person entered again under a new record id: 一人多户, a second Patient, a case keyed twice."""
        candidates = self.living_people(lambda p: bool(self.duplicate_targets(p)))
        self.fill("duplicates", budget, candidates, self.enter_again, self.free)

    def duplicate_targets(self, person: Person) -> list[tuple[str, str]]:
        streams = (("public_security", "persons"), ("health", "patients"), ("civil_affairs", "assistance"))
        return [s for s in streams if self.records_of(person, *s)]

    def enter_again(self, person: Person) -> None:
        self.touched.add(person.person_id)
        source, stream = self.rng.choice(self.duplicate_targets(person))
        first_id = self.records_of(person, source, stream)[0]
        if source == "public_security":
            duplicate_id = self.new_register_row(person)
        elif source == "health":
            duplicate_id = self.new_patient(person)
        else:
            first = self.civil["assistance"][first_id]
            duplicate_id = self.new_assistance_record(person, first["program"], first["monthlyAmount"], first["status"],
                                                      date.fromisoformat(first["startDate"]), first["endDate"])
        self.state.truth.duplicates.append((person.person_id, record_key(source, stream, first_id), record_key(source, stream, duplicate_id)))


def set_fhir_field(resource: dict, field_name: str, value: str) -> None:
    """Set a Patient field in its FHIR shape, keeping the generator's key order when the field was missing."""
    if field_name not in FHIR_FIELDS:
        resource[field_name] = value
        return
    inner, extra = FHIR_FIELDS[field_name]
    entry = {**extra, inner: value}
    if field_name in resource:
        resource[field_name] = [entry]
        return
    ordered = {}
    for key, item in resource.items():
        ordered[key] = item
        if key == "meta":
            ordered[field_name] = [entry]
    resource.clear()
    resource.update(ordered)

