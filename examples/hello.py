"""Hello: one deployment of two pods behind a NodePort.

podplay up examples/hello.py        # then: curl http://<any node address>:30080/
podplay compile examples/hello.py   # or just look at the Ansible it becomes
"""

import podplay as pp

pp.Cluster("hello", nodes=2)

image = pp.Image("hello", context="images/hello")

hello = pp.Deployment(
    "hello",
    replicas=2,
    containers=[
        pp.Container(
            "hello",
            image=image,
            ports=[8080],
            readiness=pp.HttpProbe("/", 8080, period=2),
        )
    ],
)

web = pp.Service(
    "hello",
    selector=hello,
    type="NodePort",
    ports=[pp.ServicePort(80, target_port=8080, node_port=30080)],
)

pp.export("node_port", web.node_port())
