"""Text clean-up shared by the standardisers: width folding, whitespace, safe coercion to str,
the never-raise wrapper every standardiser is built with, and the record of repairs a clean-up made."""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from typing import Callable, Concatenate, ParamSpec, TypeVar

_WHITESPACE = re.compile(r"[\s\u200b\u200c\u200d\u2060\ufeff]+")
# Characters that are not text at all (controls, unassigned, surrogates) and so never mean anything.
_JUNK_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}

P = ParamSpec("P")
R = TypeVar("R")


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


def compact(text: str) -> str:
    """Half-width, with no whitespace or invisible characters: the form codes and names are looked up in."""
    return remove_whitespace(fold_width(drop_junk(text)))


def is_blank(text: str | None) -> bool:
    """True for None and strings with nothing but whitespace or junk."""
    return text is None or not remove_whitespace(drop_junk(text))


def standardiser(
    *, missing: R, on_error: R,
) -> Callable[[Callable[Concatenate[str, P], R]], Callable[Concatenate[object, P], R]]:
    """Make a function of non-blank text a standardiser of any raw value that never raises.

    The wrapped function takes the raw value (None, NaN, a number, any text): a value that is
    missing or blank gives `missing` without calling it, and any exception it raises gives
    `on_error`, because one unreadable value must never stop the pipeline.
    """

    def wrap(standardise: Callable[Concatenate[str, P], R]) -> Callable[Concatenate[object, P], R]:
        @functools.wraps(standardise)
        def guarded(raw: object, *args: P.args, **kwargs: P.kwargs) -> R:
            text = as_text(raw)
            if is_blank(text):
                return missing
            try:
                return standardise(text, *args, **kwargs)
            except Exception:  # noqa: BLE001 - a standardiser must never stop the pipeline
                return on_error

        return guarded

    return wrap


class Repairs:
    """A text being cleaned step by step, with the code of every step that changed it, in order."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.codes: list[str] = []

    def apply(self, transform: Callable[[str], str], code: str) -> None:
        """Run one clean-up step on the text and record `code` when the step changed it."""
        cleaned = transform(self.text)
        if cleaned != self.text:
            self.codes.append(code)
            self.text = cleaned
