"""Every table, imported in one place so Alembic and the app see the same metadata."""

from api.accounts.models import (
    ApiToken,
    Membership,
    OneTimeToken,
    RecoveryCode,
    SignInAttempt,
    User,
    WebSession,
)
from api.actions.models import Action, ActionCriterion, ActionNote
from api.assessments.models import (
    Assessment,
    AssessmentRater,
    ConsensusRating,
    Cycle,
    Evidence,
    EvidenceFileContent,
    MemberResponse,
    Rating,
)
from api.audit.models import AuditEvent
from api.baf.models import BafRisk, BafRiskVersion
from api.benchmarking.models import PeerSnapshot
from api.db import metadata
from api.frameworks.models import Criterion, FrameworkRecord, FrameworkSection
from api.indicators.models import BoardIndicators
from api.mail import OutboxEmail
from api.organisations.models import Organisation
from api.reminders.models import Reminder, ScheduledReminder
from api.reports.models import ExportLock, RenderedExport
from api.response_cache import CachedResponse
from api.scoring.models import StoredScore

__all__ = [
    "Action",
    "ActionCriterion",
    "ActionNote",
    "BafRisk",
    "BafRiskVersion",
    "BoardIndicators",
    "ApiToken",
    "OneTimeToken",
    "OutboxEmail",
    "PeerSnapshot",
    "CachedResponse",
    "ExportLock",
    "RenderedExport",
    "RecoveryCode",
    "Reminder",
    "ScheduledReminder",
    "SignInAttempt",
    "StoredScore",
    "WebSession",
    "Assessment",
    "AssessmentRater",
    "AuditEvent",
    "ConsensusRating",
    "Criterion",
    "Cycle",
    "Evidence",
    "FrameworkRecord",
    "EvidenceFileContent",
    "FrameworkSection",
    "Membership",
    "Organisation",
    "Rating",
    "MemberResponse",
    "User",
    "metadata",
]
