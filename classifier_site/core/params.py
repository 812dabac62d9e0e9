"""Query parameters, checked before they reach the database.

Every list (API and pages) reads its parameters through these functions, so one rule
holds everywhere: integers are bounded (PostgreSQL's bigint overflows past 2**63 and
Python's ints never do, so an unbounded ``?offset=`` used to be a 500), and text never
carries a NUL byte (PostgreSQL refuses it in any text value). A bad value raises
``DomainError`` naming the parameter, which the API answers as a 400 in the JSON error
shape and pages answer as a 400.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from classifier_site.core.errors import DomainError

# The largest page offset any list accepts: far beyond any real list, far below bigint.
MAX_OFFSET = 10_000_000
MAX_TEXT = 500


def _raw(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name, "")
    return "" if value is None else str(value)


def _empty_given(params: Mapping[str, Any], name: str) -> bool:
    return name in params and not _raw(params, name).strip()


def text_clean(value: str, *, name: str, max_length: int = MAX_TEXT) -> str:
    """A NUL-free string of at most ``max_length`` characters (longer is refused)."""
    if "\x00" in value:
        raise DomainError("must not contain NUL (\\x00) characters.", field=name)
    if len(value) > max_length:
        raise DomainError(f"at most {max_length} characters.", field=name)
    return value


def text_param(
    params: Mapping[str, Any], name: str, *, default: str = "", max_length: int = MAX_TEXT
) -> str:
    raw = _raw(params, name)
    return text_clean(raw, name=name, max_length=max_length) if raw else default


def int_param(
    params: Mapping[str, Any],
    name: str,
    *,
    default: int,
    minimum: int,
    maximum: int,
) -> int:
    """A whole number in [minimum, maximum]; missing gives ``default``, empty is refused."""
    raw = _raw(params, name).strip()
    if _empty_given(params, name):
        raise DomainError(f"must be a whole number from {minimum} to {maximum}.", field=name)
    if not raw:
        return default
    # Bounded length first: int() of a 100 000-digit string is itself slow.
    if len(raw) > 20 or not raw.lstrip("+-").isdigit():
        raise DomainError(f"must be a whole number from {minimum} to {maximum}.", field=name)
    value = int(raw)
    if not minimum <= value <= maximum:
        raise DomainError(f"must be a whole number from {minimum} to {maximum}.", field=name)
    return value


def choice_param(
    params: Mapping[str, Any],
    name: str,
    *,
    choices: Iterable[str],
    default: str = "",
    strict: bool = True,
) -> str:
    """One of ``choices``; an unknown value raises, or gives ``default`` when not strict.

    NUL is refused either way: a page that ignores unknown values still answers 400 to a
    value no form could have produced."""
    raw = text_param(params, name).strip()
    allowed = list(choices)
    if not raw and strict and _empty_given(params, name):
        raise DomainError(f"must be one of {', '.join(allowed)}.", field=name)
    if not raw:
        return default
    if raw not in allowed:
        if strict:
            raise DomainError(f"must be one of {', '.join(allowed)}.", field=name)
        return default
    return raw


def date_param(params: Mapping[str, Any], name: str, *, strict: bool = True) -> date | None:
    raw = text_param(params, name, max_length=40).strip()
    if not raw and strict and _empty_given(params, name):
        raise DomainError("use a date like 2025-01-31.", field=name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        if strict:
            raise DomainError("use a date like 2025-01-31.", field=name) from None
        return None
