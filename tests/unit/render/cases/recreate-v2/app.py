"""Version 2 with pp.Recreate(): every old pod stops before any new one starts."""

import podplay as pp

pp.Cluster("roll", nodes=2)
web = pp.Deployment(
    "web",
    replicas=3,
    containers=[pp.Container("web", "busybox", env={"VERSION": "2"}, ports=[80])],
    strategy=pp.Recreate(),
)
pp.Service("web", selector=web, type="NodePort", ports=[80])
