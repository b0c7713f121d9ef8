"""Masking of personal values for anyone not granted them in clear (DESIGN.md, privacy rules).

ID number `110101********1234`, name `张*`, mobile `138****8000`. `mask_text` masks whatever of
these a free-text value (a quarantined row's raw value) contains, so reports never show one in clear.
"""

from __future__ import annotations

import re

_ID_LIKE = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{5,8})(\d{3}[\dXx])(?![0-9A-Za-z])")
_MOBILE_LIKE = re.compile(r"(?<!\d)(1\d{2})(\d{4})(\d{4})(?!\d)")
_LONG_DIGITS = re.compile(r"\d{7,}")
_HAN_RUN = re.compile(r"[\u3400-\u9fff\u00b7]{2,}")
_DATE_LIKE = re.compile(r"(?<!\d)((?:19|20)\d{2})([-/.年]?)(\d{1,2})([-/.月]?)(\d{1,2})(日?)(?!\d)")


def mask_id_number(value: str | None) -> str | None:
    """Keep the region (first six) and the last four characters: `110101********1234`."""
    if value is None:
        return None
    text = str(value).strip()
    if len(text) <= 10:
        return "*" * len(text)
    return text[:6] + "*" * (len(text) - 10) + text[-4:]


def mask_name(value: str | None) -> str | None:
    """Keep the first character (the family name): `张*`, `欧阳**`'s first character `欧**`."""
    if value is None:
        return None
    text = str(value).strip()
    return text[:1] + "*" * max(len(text) - 1, 1) if text else text


def mask_phone(value: str | None) -> str | None:
    """Keep the first three and last four digits of a mobile (`138****8000`); landlines keep area code and last two."""
    if value is None:
        return None
    text = str(value).strip()
    if len(text) >= 11:
        return text[:3] + "*" * (len(text) - 7) + text[-4:]
    if len(text) > 4:
        return text[:-6] + "****" + text[-2:] if len(text) > 6 else "****" + text[-2:]
    return "*" * len(text)


def mask_date(value: str | None) -> str | None:
    """Keep the year of a date (a birth date narrows a person down): `1990-**-**`."""
    if value is None:
        return None
    return _DATE_LIKE.sub(lambda m: f"{m[1]}{m[2]}**{m[4]}**{m[6]}", str(value))


def mask_text(value: str | None) -> str | None:
    """Mask every ID-number-, phone-, date- and name-like part of a free-text value."""
    if value is None:
        return None
    text = _ID_LIKE.sub(lambda m: m[1] + "*" * len(m[2]) + m[3], str(value))
    text = _MOBILE_LIKE.sub(lambda m: f"{m[1]}****{m[3]}", text)
    text = _DATE_LIKE.sub(lambda m: f"{m[1]}{m[2]}**{m[4]}**{m[6]}", text)
    # Any other long digit run (a mangled ID number, a landline) keeps only its last two digits.
    text = _LONG_DIGITS.sub(lambda m: "*" * (len(m[0]) - 2) + m[0][-2:], text)
    return _HAN_RUN.sub(lambda m: mask_name(m[0]) or "", text)


MASKS = {
    "id_number": mask_id_number,
    "name": mask_name,
    "phone": mask_phone,
    "birth_date": mask_date,
    "death_date": mask_date,
}


def mask_field(field: str | None, value: str | None) -> str | None:
    """Mask `value` by the rule of its field (`id_number`, `name`, `phone`, dates); free text otherwise."""
    if value is None:
        return None
    masker = MASKS.get(field or "")
    return masker(value) if masker else mask_text(value)
