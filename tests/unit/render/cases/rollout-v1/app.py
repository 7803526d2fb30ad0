"""Version 1 of an app (rollout-v2 re-plans against this plan)."""

import podplay as pp

pp.Cluster("roll", nodes=2)
web = pp.Deployment(
    "web",
    replicas=3,
    containers=[pp.Container("web", "busybox", env={"VERSION": "1"}, ports=[80])],
)
pp.Service("web", selector=web, type="NodePort", ports=[80])
