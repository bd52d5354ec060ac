"""Tables of the points programme: the behaviour list, awards and their limits, rewards and
redemptions. Other packages never touch them; they call `points`' service functions."""

from points.models.awards import (
    Award,
    AwardStatus,
    CapUsage,
    Flag,
    FlagKind,
    Member,
    StaffBudgetUsage,
)
from points.models.behaviours import Behaviour, BehaviourVersion, Category, Unit
from points.models.rewards import (
    PaymentEvent,
    Redemption,
    RedemptionStatus,
    Reward,
    RewardClaim,
    RewardKind,
)

__all__ = [
    "Award",
    "AwardStatus",
    "Behaviour",
    "BehaviourVersion",
    "CapUsage",
    "Category",
    "Flag",
    "FlagKind",
    "Member",
    "PaymentEvent",
    "Redemption",
    "RedemptionStatus",
    "Reward",
    "RewardClaim",
    "RewardKind",
    "StaffBudgetUsage",
    "Unit",
]
