"""The roles a person can hold, by name: the only place in the code that spells them.

A trust role is a person's place on one trust's board (a membership); a platform role is held
across the service (the user account). Templates may spell them; Python code uses these names.
"""

from __future__ import annotations

from typing import Literal

# Trust roles: what a membership of one trust's board lets its holder do.
CHAIR = "chair"
BOARD_MEMBER = "board_member"
BOARD_SECRETARY = "board_secretary"

# Platform roles: held by the account, across every trust.
SECTOR_ANALYST = "sector_analyst"
PLATFORM_ADMIN = "platform_admin"

TRUST_ROLES = (CHAIR, BOARD_MEMBER, BOARD_SECRETARY)
PLATFORM_ROLES = (SECTOR_ANALYST, PLATFORM_ADMIN)
ALL_ROLES = TRUST_ROLES + PLATFORM_ROLES

# Who rates the criteria (the chair and the board members), and who runs the assessment, the
# action plan, the risk register and the board's membership (the chair and the board secretary).
RATER_ROLES = (CHAIR, BOARD_MEMBER)
MANAGER_ROLES = (CHAIR, BOARD_SECRETARY)
# Who sees the sector-wide figures.
ANALYST_ROLES = (SECTOR_ANALYST, PLATFORM_ADMIN)

# The same names as types, for pydantic models that accept a role (a Literal cannot name a constant).
TrustRole = Literal["chair", "board_member", "board_secretary"]
PlatformRole = Literal["sector_analyst", "platform_admin"]

# Board roles: what a person is on the board (the respondent-role view and the 2022 survey's
# groups), not what they may do. Only the chair's is both a role and a board role.
BOARD_ROLE_CHAIR = "chair"
BoardRole = Literal["chair", "ned", "executive", "chief_executive", "secretary", "other"]
