"""Version 2: a changed template (and one more replica) rolls out one pod at a time."""

import podplay as pp

pp.Cluster("roll", nodes=2)
web = pp.Deployment(
    "web",
    replicas=4,
    containers=[pp.Container("web", "busybox", env={"VERSION": "2"}, ports=[80])],
)
pp.Service("web", selector=web, type="NodePort", ports=[80])
