"""Text clean-up shared by the standardisers: width folding, whitespace, safe coercion to str."""

from __future__ import annotations

import math
import re
import unicodedata

_WHITESPACE = re.compile(r"[\s\u200b\u200c\u200d\u2060\ufeff]+")
# Characters that are not text at all (controls, unassigned, surrogates) and so never mean anything.
_JUNK_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}


def as_text(value: object) -> str | None:
    """A value as text, or None for None/NaN (pandas hands missing values over as NaN)."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    try:
        return value if isinstance(value, str) else str(value)
    except Exception:  # noqa: BLE001 - a value whose str() fails is as good as missing
        return None


def fold_width(text: str) -> str:
    """Full-width forms to half-width (and other compatibility forms) by NFKC."""
    return unicodedata.normalize("NFKC", text)


def remove_whitespace(text: str) -> str:
    """Drop every kind of whitespace, including ideographic and zero-width spaces."""
    return _WHITESPACE.sub("", text)


def drop_junk(text: str) -> str:
    """Drop control, format, private-use, surrogate and unassigned code points."""
    return "".join(ch for ch in text if unicodedata.category(ch) not in _JUNK_CATEGORIES)


def is_blank(text: str | None) -> bool:
    """True for None and strings with nothing but whitespace or junk."""
    return text is None or not remove_whitespace(drop_junk(text))
