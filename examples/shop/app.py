"""Shop: a two-tier app showing all four service types.

- `backend` (ClusterIP): two pods; the frontend reaches them by DNS name, `backend`, which
  cluster DNS resolves to the service's ClusterIP, balanced over the backend pods.
- `frontend` (NodePort 30080): three pods, reachable on every node's address.
- `frontend-lb` (LoadBalancer): one address from the cluster's pool, held by one node.
- `payments` (ExternalName): cluster DNS answers a CNAME to payments.example.test.

    podplay up examples/shop/app.py     # or: make demo
    curl http://<node address>:30080/cgi-bin/shop
"""

import podplay as pp

pp.Cluster("shop", nodes=3)

frontend_image = pp.Image("shop-frontend", context="images/frontend")
backend_image = pp.Image("shop-backend", context="images/backend")

backend = pp.Deployment(
    "backend",
    replicas=2,
    containers=[
        pp.Container(
            "backend",
            image=backend_image,
            ports=[8080],
            readiness=pp.HttpProbe("/healthz", 8080, period=2),
            resources=pp.Resources(cpu="100m", memory="32Mi"),
        )
    ],
)
backend_svc = pp.Service("backend", selector=backend, ports=[pp.ServicePort(80, target_port=8080)])

frontend = pp.Deployment(
    "frontend",
    replicas=3,
    containers=[
        pp.Container(
            "frontend",
            image=frontend_image,
            env={"BACKEND_HOST": "backend", "BACKEND_PORT": "80"},
            ports=[8080],
            readiness=pp.HttpProbe("/healthz", 8080, period=2),
            liveness=pp.TcpProbe(8080, period=5, initial_delay=2),
            resources=pp.Resources(cpu="100m", memory="32Mi"),
        )
    ],
)
site = pp.Service(
    "frontend",
    selector=frontend,
    type="NodePort",
    ports=[pp.ServicePort(80, target_port=8080, node_port=30080)],
)
lb = pp.Service(
    "frontend-lb",
    selector=frontend,
    type="LoadBalancer",
    ports=[pp.ServicePort(80, target_port=8080)],
)
pp.Service("payments", type="ExternalName", external_name="payments.example.test")

pp.export("frontend_node_port", site.node_port())
pp.export("frontend_lb_ip", lb.external_ip)
pp.export("backend_cluster_ip", backend_svc.cluster_ip)
pp.export("backend_dns", backend_svc.dns_name)
