"""Health commission (卫健) system: FHIR-like Patient resources and birth/death certificate Observations."""

from __future__ import annotations

from datetime import datetime, time

from simulators.departments.common import RenderContext, fmt_fhir_instant, fmt_iso
from simulators.events import World
from simulators.population import Person

SOURCE = "health"
GENDER = {"M": "male", "F": "female"}
ID_SYSTEM = "urn:oid:2.16.156.10011.1.1"  # resident identity card
CERTIFICATE_SYSTEM = "urn:cityhub:certificate-type"


def identifier_of(ctx: RenderContext, noiser, key: str, person: Person, world: World) -> tuple[str | None, str | None]:
    """The number on a patient record, and the parent's id if a parent's number was written instead."""
    unregistered_newborn = not person.is_migrant and not person.hukou_registered
    parent_id = person.mother_id or person.father_id
    if unregistered_newborn:
        # No hukou, so no number of its own yet: the clerk leaves it empty or writes the mother's.
        if parent_id and ctx.rng.random() < 0.4:
            return world.persons[parent_id].id_number, parent_id
        return None, None
    if person.person_id in world.planted.get("parent_id_on_child", ()) and person.person_id not in ctx.truth.index.get("parent_id", {}):
        ctx.truth.remember("parent_id", person.person_id, key)  # only the person's first patient record
        return world.persons[parent_id].id_number, parent_id
    return noiser.id_number(key, "identifier", person.id_number, person.birth_date), None


def patient_resource(ctx: RenderContext, noiser, world: World, person: Person, patient_id: str) -> dict:
    """One Patient resource for a person."""
    key = ctx.truth.record(SOURCE, "patients", patient_id, person.person_id)
    number, parent_id = identifier_of(ctx, noiser, key, person, world)
    if parent_id:
        ctx.truth.parent_id_on_child.append({"person_id": person.person_id, "parent_person_id": parent_id, "record_key": key, "field": "identifier"})
    last = person.death_date or person.birth_date
    resource: dict = {"resourceType": "Patient", "id": patient_id,
                      "meta": {"lastUpdated": fmt_fhir_instant(ctx.updated_at(not_before=last))}}
    if number is not None:
        resource["identifier"] = [{"system": ID_SYSTEM, "value": number}]
    resource["name"] = [{"text": noiser.name(key, "name", person.name)}]
    resource["gender"] = GENDER[person.gender]
    resource["birthDate"] = noiser.date(key, "birthDate", person.birth_date, fmt_iso)
    phone = noiser.phone(key, "telecom", person.phone, person.old_phone)
    if phone is None and person.mother_id:  # children are reached through a parent
        phone = world.persons[person.mother_id].phone
    if phone:
        resource["telecom"] = [{"system": "phone", "value": phone}]
    resource["address"] = [{"text": noiser.address(key, "address", person.current_address, person.previous_address)}]
    if person.death_date:
        resource["deceasedDateTime"] = fmt_iso(person.death_date)
    return resource


def render_patients(world: World, ctx: RenderContext) -> tuple[list[dict], dict[str, str]]:
    """Patients the health system knows (some entered twice), and each person's first patient id."""
    noiser = ctx.noiser()
    patients: list[dict] = []
    patient_of: dict[str, str] = {}
    for person_id in world.patients:
        person = world.persons[person_id]
        copies = 2 if noiser.duplicate() else 1
        for copy in range(copies):
            patient_id = f"pat-{len(patients) + 1:06d}"
            patients.append(patient_resource(ctx, noiser, world, person, patient_id))
            if copy == 0:
                patient_of[person_id] = patient_id
            else:
                ctx.truth.duplicates.append((person_id, f"{SOURCE}:patients:{patient_of[person_id]}", f"{SOURCE}:patients:{patient_id}"))
    return patients, patient_of


def certificate(ctx: RenderContext, obs_id: str, kind: str, patient_id: str, when, number: str) -> dict:
    """One birth or death certificate Observation."""
    display = {"birth-certificate": "出生医学证明", "death-certificate": "居民死亡医学证明"}[kind]
    moment = datetime.combine(when, time(ctx.rng.randint(0, 23), ctx.rng.randint(0, 59)))
    return {
        "resourceType": "Observation", "id": obs_id,
        "meta": {"lastUpdated": fmt_fhir_instant(ctx.updated_at(not_before=when))},
        "status": "final",
        "code": {"coding": [{"system": CERTIFICATE_SYSTEM, "code": kind, "display": display}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": fmt_fhir_instant(moment),
        "valueString": number,
    }


def render_observations(world: World, ctx: RenderContext, patient_of: dict[str, str]) -> list[dict]:
    """Birth certificates of newborns and death certificates of the deceased."""
    observations: list[dict] = []
    events = [("birth-certificate", pid, world.persons[pid].birth_date, "Q") for pid in world.births]
    events += [("death-certificate", pid, world.persons[pid].death_date, "S") for pid in world.deaths]
    for kind, person_id, when, letter in events:
        obs_id = f"obs-{len(observations) + 1:06d}"
        number = f"{letter}{world.persons[person_id].current_admin_code[:4]}{ctx.rng.randrange(10**6):06d}"
        observations.append(certificate(ctx, obs_id, kind, patient_of[person_id], when, number))
        ctx.truth.fact(SOURCE, "certificates", obs_id, f"{SOURCE}:patients:{patient_of[person_id]}", person_id)
    return observations
