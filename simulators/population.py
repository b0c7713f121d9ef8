"""The true population: households and residents with valid ID numbers, ages, phones and addresses."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from simulators.idnumber import unused_id_number
from simulators.names import han_name, minority_name, pick_ethnicity, pick_surname
from simulators.regions import Address, birth_region_for, hangzhou_address, migrant_origin

TODAY = date(2026, 6, 30)  # the simulated "today" every timestamp is based on

MOBILE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155",
                   "157", "158", "159", "166", "173", "177", "180", "181", "182", "183", "185", "186", "187",
                   "188", "189", "191", "198", "199")


@dataclass
class Person:
    """One true resident (alive or recently deceased) of the simulated city."""

    person_id: str
    id_number: str
    name: str
    gender: str  # M / F
    birth_date: date
    ethnicity: str
    marital_status: str  # unmarried / married / widowed / divorced
    phone: str | None
    household_id: str
    hukou_address: str
    hukou_admin_code: str
    current_address: str
    current_admin_code: str
    is_migrant: bool = False
    hukou_registered: bool = True
    old_phone: str | None = None
    previous_address: str | None = None
    moved_in_date: date | None = None
    moved_out_date: date | None = None  # hukou moved out of the city (迁出)
    death_date: date | None = None
    death_in_hukou: bool = True
    spouse_id: str | None = None
    mother_id: str | None = None
    father_id: str | None = None
    twin_id: str | None = None

    def age_on(self, day: date = TODAY) -> int:
        """Age in whole years on `day`."""
        return day.year - self.birth_date.year - ((day.month, day.day) < (self.birth_date.month, self.birth_date.day))

    @property
    def alive(self) -> bool:
        return self.death_date is None


@dataclass
class Household:
    """A household: hukou households for locals (户号), rented homes for migrants."""

    household_id: str
    address: Address
    is_migrant: bool
    member_ids: list[str] = field(default_factory=list)


class PopulationBuilder:
    """Draws households and their members until the requested number of residents exists."""

    def __init__(self, rng: random.Random, today: date = TODAY):
        self.rng = rng
        self.today = today
        self.persons: dict[str, Person] = {}
        self.households: dict[str, Household] = {}
        self._used_ids: set[str] = set()
        self._household_serial = 0
        self.twin_pairs = 0
        self.min_twin_pairs = 2  # so even a small test city has twins
        self.lone_elder_ids: list[str] = []  # the first elders aged 80+ living alone, kept alive as planted cases

    # -- individuals -------------------------------------------------------------------------
    def birth_date_for_age(self, age: int) -> date:
        """A birth date giving `age` whole years today."""
        latest = self.today.replace(year=self.today.year - age) if not (self.today.month == 2 and self.today.day == 29) else self.today
        return latest - timedelta(days=self.rng.randint(0, 364))

    def unique_id_number(self, region: str, birth: date, gender: str) -> str:
        """A valid ID number not used by anyone else."""
        return unused_id_number(self.rng, self._used_ids, region, birth, gender)

    def phone(self) -> str:
        """An 11-digit mobile number."""
        return self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"

    def add_person(self, household: Household, *, age: int | None = None, birth: date | None = None, gender: str | None = None,
                   surname: str | None = None, marital: str = "unmarried", origin: Address | None = None,
                   ethnicity: str | None = None) -> Person:
        """Create one resident of `household`."""
        rng = self.rng
        gender = gender or rng.choice("MF")
        birth = birth or self.birth_date_for_age(age if age is not None else 30)
        ethnicity = ethnicity or pick_ethnicity(rng)
        name = minority_name(rng, ethnicity, gender) if surname is None else None
        name = name or han_name(rng, gender, surname)
        if household.is_migrant:
            assert origin is not None
            region, hukou = origin.admin_code, origin
        else:
            region, hukou = birth_region_for(rng, household.address.admin_code, birth.year), household.address
        person_id = f"P{len(self.persons) + 1:06d}"
        adult = (self.today - birth).days >= 16 * 365
        person = Person(
            person_id=person_id, id_number=self.unique_id_number(region, birth, gender), name=name, gender=gender,
            birth_date=birth, ethnicity=ethnicity, marital_status=marital, phone=self.phone() if adult else None,
            household_id=household.household_id, hukou_address=hukou.text, hukou_admin_code=hukou.admin_code,
            current_address=household.address.text, current_admin_code=household.address.admin_code,
            is_migrant=household.is_migrant, hukou_registered=not household.is_migrant,
        )
        if adult and rng.random() < 0.15:
            person.old_phone = self.phone()
        self.persons[person_id] = person
        household.member_ids.append(person_id)
        return person

    # -- households --------------------------------------------------------------------------
    def new_household(self, migrant: bool) -> Household:
        """An empty household at a fresh Hangzhou address."""
        self._household_serial += 1
        address = hangzhou_address(self.rng)
        prefix = "M" if migrant else address.admin_code
        household = Household(f"{prefix}{self._household_serial:07d}", address, migrant)
        self.households[household.household_id] = household
        return household

    def couple(self, household: Household, head_age: int, origin: Address | None, marital: str = "married") -> tuple[Person, Person]:
        """A married couple; the wife is usually a little younger."""
        rng = self.rng
        husband = self.add_person(household, age=head_age, gender="M", marital=marital, origin=origin)
        wife_age = max(20, head_age - rng.choice((-2, -1, 0, 1, 2, 2, 3, 3, 4, 5)))
        wife = self.add_person(household, age=wife_age, gender="F", marital=marital, origin=origin)
        husband.spouse_id, wife.spouse_id = wife.person_id, husband.person_id
        return husband, wife

    def children(self, household: Household, father: Person, mother: Person, count: int, origin: Address | None,
                 newborn: bool = False, twins: bool = False) -> list[Person]:
        """Children of a couple, taking the father's surname (twins share a birth date)."""
        rng = self.rng
        surname = _surname_of(father.name) if "·" not in father.name else None
        mother_age = mother.age_on(self.today)
        kids: list[Person] = []
        for index in range(count):
            if newborn and index == count - 1:
                birth = self.today - timedelta(days=rng.randint(1, 360))
            elif twins and index == 1 and kids:
                birth = kids[0].birth_date
            else:
                oldest = max(0, mother_age - 22)
                youngest = max(0, mother_age - 40)
                birth = self.birth_date_for_age(rng.randint(youngest, max(youngest, oldest)))
            kid = self.add_person(household, birth=birth, surname=surname, origin=origin, ethnicity=father.ethnicity)
            kid.father_id, kid.mother_id = father.person_id, mother.person_id
            kids.append(kid)
        if twins and len(kids) >= 2:
            kids[0].twin_id, kids[1].twin_id = kids[1].person_id, kids[0].person_id
        return kids

    def build_household(self) -> None:
        """One household of a randomly drawn kind."""
        rng = self.rng
        migrant = rng.random() < 0.13  # migrant households are smaller: about 10% of residents
        household = self.new_household(migrant)
        origin = migrant_origin(rng) if migrant else None
        kinds = ("single", "couple", "nuclear", "three_generations", "elderly_couple", "elderly_alone")
        weights = (40, 30, 30, 0, 0, 0) if migrant else (12, 15, 38, 14, 13, 8)
        kind = rng.choices(kinds, weights=weights)[0]
        if not migrant and len(self.lone_elder_ids) < 2 and self._household_serial % 7 == 3:
            kind = "elderly_alone"
        if kind == "single":
            self.add_person(household, age=rng.randint(19, 45), marital=rng.choice(("unmarried",) * 5 + ("divorced",)), origin=origin)
        elif kind == "couple":
            self.couple(household, round(rng.triangular(23, 68, 55)), origin)
        elif kind in ("nuclear", "three_generations"):
            head_age = round(rng.triangular(26, 62, 46))
            husband, wife = self.couple(household, head_age, origin)
            newborn = wife.age_on() <= 42 and rng.random() < 0.035
            twins = rng.random() < 0.012 or (self.twin_pairs < self.min_twin_pairs and wife.age_on() <= 45)
            self.twin_pairs += twins
            count = 2 if twins else rng.choices((1, 2, 3), weights=(55, 40, 5))[0]
            self.children(household, husband, wife, count, origin, newborn=newborn and not twins, twins=twins)
            if kind == "three_generations":
                grand_age = min(100, head_age + rng.randint(24, 34))
                if rng.random() < 0.55:
                    grandpa, _ = self.couple(household, grand_age, origin)
                    husband.father_id = grandpa.person_id
                else:
                    self.add_person(household, age=grand_age, gender=rng.choice("MF"), marital="widowed", origin=origin)
        elif kind == "elderly_couple":
            self.couple(household, round(rng.triangular(58, 93, 64)), origin)
        else:
            age = rng.choices((rng.randint(65, 79), rng.randint(80, 99)), weights=(45, 55))[0]
            if len(self.lone_elder_ids) < 2 and not migrant:
                age = rng.randint(80, 95)
            elder = self.add_person(household, age=age, marital=rng.choice(("widowed",) * 4 + ("divorced", "unmarried")), origin=origin)
            if age >= 80 and len(self.lone_elder_ids) < 2 and not migrant:
                self.lone_elder_ids.append(elder.person_id)

    def build(self, residents: int) -> None:
        """Households until exactly `residents` people exist (the last household may be cut short)."""
        while len(self.persons) < residents:
            self.build_household()
        for person_id in list(self.persons)[residents:]:
            person = self.persons.pop(person_id)
            self.households[person.household_id].member_ids.remove(person_id)
        for household_id in [h for h, household in self.households.items() if not household.member_ids]:
            del self.households[household_id]
        for person in self.persons.values():  # links to people cut off at the end must not dangle
            for link in ("spouse_id", "mother_id", "father_id", "twin_id"):
                if getattr(person, link) and getattr(person, link) not in self.persons:
                    setattr(person, link, None)


def _surname_of(name: str) -> str:
    from simulators.names import SURNAMES

    return name[:2] if name[:2] in SURNAMES else name[:1] if name[:1] in SURNAMES else pick_surname(random.Random(name))
