"""The points programme on top of the ledger. For now: the published behaviour list
(正向行为清单) — versioned, published from YAML, read by residents and by the award path.

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
from points.service.behaviours import (
    current_behaviours,
    current_version,
    find_behaviour,
    get_version,
    parse_behaviour_list,
    publish_behaviours,
)

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
    "current_behaviours",
    "current_version",
    "find_behaviour",
    "get_version",
    "parse_behaviour_list",
    "publish_behaviours",
]
