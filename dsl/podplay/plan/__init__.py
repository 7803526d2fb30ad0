"""The planner: a pure function from a program's stack (+ previous plan, node facts, built
images) to a `Plan` — placement, pod IPs, ClusterIPs, NodePorts, LoadBalancer IPs, rollout.
"""

from podplay.plan.diff import Change, diff
from podplay.plan.model import (
    Capacity,
    ClusterFacts,
    ClusterPlan,
    DeploymentPlan,
    ImagePlan,
    NodeFacts,
    NodePlan,
    Plan,
    PodPlan,
    RolloutStep,
    ServicePlan,
)
from podplay.plan.planner import plan
from podplay.plan.rollout import stages

__all__ = [
    "Capacity",
    "Change",
    "ClusterFacts",
    "ClusterPlan",
    "DeploymentPlan",
    "ImagePlan",
    "NodeFacts",
    "NodePlan",
    "Plan",
    "PodPlan",
    "RolloutStep",
    "ServicePlan",
    "diff",
    "plan",
    "stages",
]
