"""The points programme (市民信用积分) on top of the ledger: the published behaviour list, earning
codes, awards with caps, budgets and maker-checker approval, feeds, rewards and redemption.

Other packages call what is re-exported here, never the tables."""

from pathlib import Path

from points.errors import (
    InvalidBehaviourList,
    NoBehaviourList,
    PointsError,
    UnknownBehaviour,
    UnknownBehaviourVersion,
)
from points.models import Category, Unit
from points.schemas.behaviours import BehaviourListOut, BehaviourOut, VersionOut
from points.service.approvals import approve as approve_award
from points.service.approvals import pending as pending_awards
from points.service.approvals import reject as reject_award
from points.service.approvals import reverse as reverse_award
from points.service.awards import award
from points.service.behaviours import (
    current_behaviours,
    current_version,
    find_behaviour,
    get_version,
    parse_behaviour_list,
    publish_behaviours,
)
from points.service.earn_codes import issue as issue_earn_code
from points.service.earn_codes import read as read_earn_code
from points.service.fraud import list_flags, review_flag

# The list Wujiang starts with; `wujiang behaviours publish --default` publishes it.
DEFAULT_BEHAVIOURS = Path(__file__).with_name("default_behaviours.yaml")

__all__ = [
    "DEFAULT_BEHAVIOURS",
    "BehaviourListOut",
    "BehaviourOut",
    "Category",
    "InvalidBehaviourList",
    "NoBehaviourList",
    "PointsError",
    "Unit",
    "UnknownBehaviour",
    "UnknownBehaviourVersion",
    "VersionOut",
    "approve_award",
    "award",
    "current_behaviours",
    "current_version",
    "find_behaviour",
    "get_version",
    "issue_earn_code",
    "list_flags",
    "parse_behaviour_list",
    "pending_awards",
    "publish_behaviours",
    "read_earn_code",
    "reject_award",
    "reverse_award",
    "review_flag",
]
