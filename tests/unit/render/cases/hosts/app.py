"""Real hosts over SSH: labels, a node selector, requests, namespaces, UDP, affinity."""

import podplay as pp

pp.Cluster(
    "prod",
    nodes=[
        pp.Node("edge1", "192.0.2.11", labels={"role": "edge"}),
        pp.Node("edge2", "192.0.2.12", labels={"role": "edge"}, user="admin", port=2222),
        pp.Node("db1", "192.0.2.21", labels={"disk": "ssd"}, ssh_key="~/.ssh/prod"),
    ],
    lb_pool="192.0.2.240/29",
)

proxy = pp.Deployment(
    "proxy",
    replicas=2,
    namespace="edge",
    node_selector={"role": "edge"},
    containers=[
        pp.Container(
            "proxy",
            image="busybox:1.36",
            command=["httpd", "-f", "-p", "80"],
            ports=[80],
            liveness=pp.TcpProbe(80),
            resources=pp.Resources(cpu=0.5, memory="128Mi"),
        ),
        pp.Container(
            "dns",
            image="busybox:1.36",
            command=["nc", "-lu", "-p", "53"],
            ports=[53],
            readiness=pp.ExecProbe(["cat", "/tmp/ready"], initial_delay=5),
        ),
    ],
)
db = pp.Deployment(
    "db",
    node_selector={"disk": "ssd"},
    restart_policy="OnFailure",
    containers=[pp.Container("db", image="busybox:1.36", ports=[5432])],
)
pp.Service(
    "proxy",
    namespace="edge",
    selector=proxy,
    type="LoadBalancer",
    ports=[pp.ServicePort(80, name="http"), pp.ServicePort(53, protocol="UDP", name="dns")],
    session_affinity="ClientIP",
)
pp.Service("db", selector=db, ports=[5432])
pp.export("lb", pp.Service("db-admin", selector=db, type="LoadBalancer", ports=[8080]).external_ip)
