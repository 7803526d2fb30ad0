"""The shop as Kubernetes YAML: app.yaml's Deployments and Services, run by podplay.

    podplay up examples/k8s/app.py      # then: curl http://<any node address>:30090/

The manifest is ordinary Kubernetes YAML. What it cannot say lives here: the cluster, and
the two images it names, built on this machine from examples/shop's contexts (busybox-static,
no registry). A container image that names a pp.Image declared before from_kubernetes uses
it; any other image must already be in the local Docker engine.
"""

import podplay as pp

pp.Cluster("k8s-shop", nodes=3)

pp.Image("shop-backend", context="../shop/images/backend")
pp.Image("shop-frontend", context="../shop/images/frontend")

shop = pp.from_kubernetes("app.yaml")

pp.export("frontend_node_port", shop.service("frontend").node_port())
pp.export("backend_dns", shop.service("backend").dns_name)
