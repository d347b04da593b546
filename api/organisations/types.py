"""Trust types, their broad peer groups, regions and size bands (domain guide §6)."""

from typing import Literal

TRUST_TYPES: dict[str, str] = {
    "acute": "Acute",
    "acute_specialist": "Acute specialist",
    "combined_acute_community": "Combined acute and community",
    "mental_health": "Mental health",
    "mental_health_and_community": "Mental health and community",
    "community": "Community",
    "ambulance": "Ambulance",
}

# NHS England compares trusts in three broad groups; seven fine types are too small to be anonymous.
PEER_TYPE_OF: dict[str, str] = {
    "acute": "acute",
    "acute_specialist": "acute",
    "combined_acute_community": "acute",
    "mental_health": "non_acute",
    "mental_health_and_community": "non_acute",
    "community": "non_acute",
    "ambulance": "ambulance",
}

PEER_TYPES: dict[str, str] = {
    "acute": "Acute",
    "non_acute": "Non-acute",
    "ambulance": "Ambulance",
}

REGIONS: tuple[str, ...] = (
    "East of England",
    "London",
    "Midlands",
    "North East and Yorkshire",
    "North West",
    "South East",
    "South West",
)

# Staff headcount bands.
SIZE_BANDS: dict[str, str] = {
    "under_3000": "Under 3,000 staff",
    "3000_6999": "3,000 to 6,999 staff",
    "7000_11999": "7,000 to 11,999 staff",
    "12000_plus": "12,000 staff and over",
}

PeerType = Literal["acute", "non_acute", "ambulance"]
