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
from points.service.cashier import consume_voucher, verify_voucher
from points.service.earn_codes import issue as issue_earn_code
from points.service.earn_codes import read as read_earn_code
from points.service.expiry import count_lapsed_wallets, expire_points, remind_expiring
from points.service.fraud import list_flags, review_flag
from points.service.payment_webhooks import handle_payment_webhook
from points.service.rankings import (
    community_ranking,
    rebuild_rankings,
    record_award_for_ranking,
    set_ranking_choice,
)
from points.service.redemptions import (
    cancel_redemption,
    expire_vouchers,
    get_redemption,
    list_redemptions,
    redeem,
    remind_expiring_vouchers,
)
from points.service.reports import points_report, report_csv
from points.service.rewards import (
    add_rewards,
    get_reward,
    list_rewards,
    parse_rewards,
    parse_rewards_json,
    update_reward,
)
from points.service.views import history_filters, points_history, points_summary

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
    "add_rewards",
    "approve_award",
    "award",
    "cancel_redemption",
    "community_ranking",
    "consume_voucher",
    "count_lapsed_wallets",
    "current_behaviours",
    "current_version",
    "expire_points",
    "expire_vouchers",
    "find_behaviour",
    "get_redemption",
    "get_reward",
    "get_version",
    "handle_payment_webhook",
    "history_filters",
    "issue_earn_code",
    "list_flags",
    "list_redemptions",
    "list_rewards",
    "parse_behaviour_list",
    "parse_rewards",
    "parse_rewards_json",
    "pending_awards",
    "points_history",
    "points_report",
    "points_summary",
    "publish_behaviours",
    "read_earn_code",
    "rebuild_rankings",
    "record_award_for_ranking",
    "redeem",
    "reject_award",
    "remind_expiring",
    "remind_expiring_vouchers",
    "report_csv",
    "reverse_award",
    "review_flag",
    "set_ranking_choice",
    "update_reward",
    "verify_voucher",
]
