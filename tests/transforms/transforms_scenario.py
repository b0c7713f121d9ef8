"""A tiny two-department city landed as raw batches: the shared scenario of the Spark tests.

public_security (SQL hukou register), health (FHIR-like JSON) and two civil_affairs streams are
landed; civil_affairs assistance and housing have no batches at all, so they come out as zero rows.
"""

from __future__ import annotations

from cityhub.lake import Lake

from transforms_rawdata import jtext, make_id, write_batch

ZHANG_ID = make_id("110101", "19900307", "013")  # male (odd sequence)
LI_ID = make_id("110102", "19650412", "024")  # female; landed as a legacy 15-digit number
LI_ID15 = LI_ID[:6] + LI_ID[8:17]
# a number whose check character is X, landed with a lowercase x
WANG_ID = next(i for i in (make_id("110105", "19781120", f"{s:03d}") for s in range(1, 999, 2)) if i.endswith("X"))
_ZHAO_ID = make_id("110106", "19850505", "051")
ZHAO_BAD_ID = _ZHAO_ID[:17] + ("0" if _ZHAO_ID[17] != "0" else "1")  # wrong check character

CHEN_TWIN_IDS = (make_id("110108", "20100601", "011"), make_id("110108", "20100601", "013"))
LI_NA_ID = make_id("110108", "19920202", "022")

PS_PERSON_COLUMNS = ["rkid", "sfzh", "xm", "xb", "csrq", "lxdh", "hjdz", "mz", "hyzk", "updated_at", "hh", "hjzt"]


def _ps(rkid, sfzh, xm, xb, csrq, lxdh, hjdz, hyzk, updated_at, hjzt="正常"):
    return dict(rkid=rkid, sfzh=sfzh, xm=xm, xb=xb, csrq=csrq, lxdh=lxdh, hjdz=hjdz, mz="汉族", hyzk=hyzk,
                updated_at=updated_at, hh="H" + (rkid or "?"), hjzt=hjzt)


def land_public_security(lake: Lake) -> None:
    """Two batches of rk_person (P1 changes between them) and one of rk_event."""
    write_batch(lake, "public_security", "persons", "rkid", "b1", "2024-01-01T00:00:00+00:00", [
        _ps("P1", ZHANG_ID, "张三", "1", "19900307", "13800000001", "北京市东城区东华门街道1号", "20", "2023-12-01 10:00:00"),
        _ps("P2", LI_ID15, "李四", "2", "19650412", None, "北京市西城区金融街2号", "30", "2023-12-01 10:00:00"),
        # P3 twice in one batch: the later replication value wins
        _ps("P3", WANG_ID.lower(), "王五", "1", "19781120", "13800000003", "北京市朝阳区建国路3号", "10", "2023-11-01 10:00:00"),
        _ps("P3", WANG_ID.lower(), "王五", "1", "19781120", "13800000033", "北京市朝阳区建国路3号", "10", "2023-12-01 10:00:00"),
        _ps("P4", None, None, "1", "19700101", None, None, "20", "2023-12-01 10:00:00"),  # no identity
        _ps("  ", ZHANG_ID, "张三", "1", "19900307", None, None, "20", "2023-12-01 10:00:00"),  # no primary key
        _ps("P6", ZHAO_BAD_ID, "赵六", "1", "19850505", None, "北京市丰台区6号", "20", "2023-12-01 10:00:00"),
        # twins: same name and birth date, two ID numbers
        _ps("P7", CHEN_TWIN_IDS[0], "陈明", "1", "20100601", None, "北京市海淀区7号", "10", "2023-12-01 10:00:00"),
        _ps("P8", CHEN_TWIN_IDS[1], "陈明", "1", "20100601", None, "北京市海淀区7号", "10", "2023-12-01 10:00:00"),
        _ps("P9", LI_NA_ID, "李娜", "2", "19920202", None, "北京市海淀区9号", "10", "2023-12-01 10:00:00"),
    ], columns=PS_PERSON_COLUMNS)
    write_batch(lake, "public_security", "persons", "rkid", "b2", "2024-02-01T00:00:00+00:00", [
        _ps("P1", ZHANG_ID, "张三", "1", "19900307", "13800000002", "北京市东城区东华门街道1号", "20", "2024-01-15 10:00:00"),
    ], columns=PS_PERSON_COLUMNS)
    write_batch(lake, "public_security", "hukou_events", "sjid", "b1", "2024-02-01T00:00:00+00:00", [
        dict(sjid="E1", rkid="P2", sjlx="死亡注销", sjrq="20240105", updated_at="2024-01-06 09:00:00"),
        dict(sjid="E2", rkid="P99", sjlx="迁入", sjrq="20230101", updated_at="2023-01-02 09:00:00"),
        dict(sjid="E3", rkid="P4", sjlx="迁出", sjrq="20230301", updated_at="2023-03-02 09:00:00"),
    ])


def _patient(pid, id_number, name, gender, birth, phone, address, updated):
    return dict(
        id=pid,
        identifier=jtext([{"system": "urn:cn:id", "value": id_number}]) if id_number else None,
        name=jtext([{"text": name}]), gender=gender, birthDate=birth,
        telecom=jtext([{"system": "phone", "value": phone}]) if phone else None,
        address=jtext([{"text": address}]) if address else None,
        meta=jtext({"lastUpdated": updated}),
    )


def land_health(lake: Lake) -> None:
    """Patients (one with the Zhang ID in full-width digits and traditional characters) and certificates."""
    full_width_zhang = ZHANG_ID.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    write_batch(lake, "health", "patients", "id", "h1", "2024-03-02T00:00:00Z", [
        _patient("H1", full_width_zhang, "張三", "male", "1990-03-07", "13900000009", "北京市海淀区中关村1号", "2024-03-01T08:00:00Z"),
        _patient("H2", None, "李四", "female", "1965-04-12", None, None, "2024-01-01T08:00:00Z"),
        _patient("H3", None, "孙七", "male", "2000-01-01", "13700000007", None, "2024-01-01T08:00:00Z"),
        _patient("H4", None, "孫七", "male", "2000-01-01", None, None, "2024-01-02T08:00:00Z"),
        _patient("H5", None, "王五", "female", "1978-11-20", None, None, "2024-01-02T08:00:00Z"),  # gender conflicts
        _patient("H6", None, "陈明", "male", "2010-06-01", None, None, "2024-01-02T08:00:00Z"),  # which twin?
        _patient("H7", None, "李纳", "female", "1992-02-02", None, None, "2024-01-02T08:00:00Z"),  # same pinyin as 李娜
    ])
    write_batch(lake, "health", "certificates", "id", "h1", "2024-03-02T00:00:00Z", [
        dict(id="C1", subject=jtext({"reference": "Patient/H1"}), code=jtext({"coding": [{"code": "death-certificate"}]}),
             effectiveDateTime="2024-03-01T06:30:00+08:00", valueString="D2024001"),
        dict(id="C2", subject=jtext({"reference": "Patient/H404"}), code=jtext({"coding": [{"code": "birth-certificate"}]}),
             effectiveDateTime="2024-01-01", valueString="B2024404"),
    ])


def land_civil_affairs(lake: Lake) -> None:
    """A divorce registration for Zhang and a cremation for Wang; no assistance batch has landed."""
    write_batch(lake, "civil_affairs", "marriages", "partyId", "c1", "2024-03-05T00:00:00Z", [
        dict(partyId="M1", idCard=ZHANG_ID, name="张三", sex="男", birthday="1990-03-07", updatedAt="2024-02-21T00:00:00Z",
             registrationId="R1", regType="离婚", regDate="2024-02-20"),
    ])
    write_batch(lake, "civil_affairs", "cremations", "recordId", "c1", "2024-03-05T00:00:00Z", [
        dict(recordId="K1", idCard=WANG_ID, name="王五", sex="男", deathDate="2024-04-01", updatedAt="2024-04-03T00:00:00Z",
             cremationDate="2024-04-03"),
    ])


def land_city(lake: Lake) -> None:
    """Land the whole scenario."""
    land_public_security(lake)
    land_health(lake)
    land_civil_affairs(lake)
