"""podplay: Kubernetes-style clusters described in Python, delivered by Ansible.

A program imports this package and declares resources::

    import podplay as pp

    pp.Cluster("shop", nodes=3)
    web = pp.Deployment("web", replicas=3, containers=[pp.Container("web", image="busybox")])
    pp.Service("web", selector=web, ports=[80])
"""

from podplay.dsl import (
    Cluster,
    Container,
    Deployment,
    ExecProbe,
    HttpProbe,
    Image,
    Node,
    Recreate,
    Resources,
    RollingUpdate,
    Service,
    ServicePort,
    Stack,
    TcpProbe,
    export,
    from_kubernetes,
)

__version__ = "0.1.0"

__all__ = [
    "Cluster",
    "Container",
    "Deployment",
    "ExecProbe",
    "HttpProbe",
    "Image",
    "Node",
    "Recreate",
    "Resources",
    "RollingUpdate",
    "Service",
    "ServicePort",
    "Stack",
    "TcpProbe",
    "__version__",
    "export",
    "from_kubernetes",
]
