"""The fixed peer groups: all trusts, broad trust type, region, size band. No others, no intersections."""

from __future__ import annotations

from typing import Literal

from api.organisations.models import Organisation
from api.organisations.types import PEER_TYPES, SIZE_BANDS

GroupKind = Literal["all", "trust_type", "region", "size_band"]
GROUP_KINDS: tuple[GroupKind, ...] = ("all", "trust_type", "region", "size_band")
GROUP_KIND_NAMES = {
    "all": "All trusts",
    "trust_type": "Same type of trust",
    "region": "Same region",
    "size_band": "Same size",
}


def group_value(organisation: Organisation, kind: str) -> str | None:
    if kind == "all":
        return "all"
    if kind == "trust_type":
        return organisation.peer_type
    if kind == "region":
        return organisation.region
    if kind == "size_band":
        return organisation.size_band
    raise ValueError(f"unknown peer group {kind!r}")


def group_label(kind: str, value: str | None) -> str:
    if kind == "all":
        return "All trusts"
    if value is None:
        return "Not known"
    if kind == "trust_type":
        return f"{PEER_TYPES.get(value, value)} trusts"
    if kind == "size_band":
        return f"Trusts with {SIZE_BANDS.get(value, value)[0].lower()}{SIZE_BANDS.get(value, value)[1:]}"
    return f"Trusts in {value}"
