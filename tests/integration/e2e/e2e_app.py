"""The program the end-to-end tests apply, written into a temporary directory.

One deployment `api` (busybox httpd, image built offline from a context with a version file)
behind one service of each type. Its CGI scripts show who answered and let a pod ask any
host by name (to prove in-cluster DNS: ClusterIP names and an ExternalName alias):

    /cgi-bin/whoami        -> "<version> <pod hostname>"
    /cgi-bin/ask?<host>    -> what <host>:80/cgi-bin/whoami answers, asked from the pod
"""

from __future__ import annotations

from pathlib import Path

NODE_PORT = 30081
# httpd as PID 1 would ignore SIGTERM and every stopped pod would take its full grace period
SERVE = ["sh", "-c", "trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait"]


def serve_after(seconds: int) -> list[str]:
    """SERVE, the server started `seconds` after the container (a pod slow to get ready)."""
    return [
        "sh",
        "-c",
        f"trap 'exit 0' TERM; (sleep {seconds}; exec httpd -f -p 8080 -h /www) & wait",
    ]


PROGRAM = """\
import podplay as pp

pp.Cluster({cluster!r}, nodes={nodes})

image = pp.Image("e2e-api", context={context!r})
api = pp.Deployment(
    "api",
    replicas={replicas},
    containers=[
        pp.Container(
            "api",
            image=image,
            command={command!r},
            ports=[8080],
            readiness=pp.HttpProbe("/healthz", 8080, period=1),
        )
    ],
)
svc = pp.Service("api", selector=api, ports=[pp.ServicePort(80, target_port=8080)])
pp.Service("api-public", selector=api, type="NodePort",
           ports=[pp.ServicePort(80, target_port=8080, node_port={node_port})])
lb = pp.Service("api-lb", selector=api, type="LoadBalancer",
                ports=[pp.ServicePort(80, target_port=8080)])
pp.Service("api-alias", type="ExternalName", external_name="api.default.svc.cluster.local")
pp.export("cluster_ip", svc.cluster_ip)
pp.export("lb_ip", lb.external_ip)
{extra}
"""

DOCKERFILE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY www /www
"""

WHOAMI = """\
#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
echo "$(cat /www/version) $(hostname)"
"""

ASK = """\
#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
printf 'GET /cgi-bin/whoami HTTP/1.0\\r\\nHost: %s\\r\\n\\r\\n' "$QUERY_STRING" \\
  | nc -w 3 "$QUERY_STRING" 80 | sed '1,/^\\r*$/d'
"""


def write_context(root: Path, version: str) -> str:
    """An image context `web-<version>`; returns its path relative to the program."""
    ctx = root / f"web-{version}"
    (ctx / "www" / "cgi-bin").mkdir(parents=True, exist_ok=True)
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "www" / "healthz").write_text("ok\n")
    (ctx / "www" / "version").write_text(f"{version}\n")
    for name, text in (("whoami", WHOAMI), ("ask", ASK)):
        script = ctx / "www" / "cgi-bin" / name
        script.write_text(text)
        script.chmod(0o755)
    return ctx.name


def write_program(
    root: Path,
    cluster: str,
    *,
    nodes: int = 3,
    replicas: int = 3,
    version: str = "v1",
    extra: str = "",
    name: str = "app.py",
    broken: bool = False,
    start_delay: int = 0,
) -> Path:
    """The program, with its image context for `version` (`broken`: a server that is not
    there, so its containers cannot start; `start_delay`: pods ready that many seconds
    after they start)."""
    command = serve_after(start_delay) if start_delay else SERVE
    if broken:
        command = ["httpdx", "-f", "-p", "8080", "-h", "/www"]
    context = write_context(root, version)
    path = root / name
    path.write_text(
        PROGRAM.format(
            cluster=cluster,
            nodes=nodes,
            context=context,
            replicas=replicas,
            node_port=NODE_PORT,
            extra=extra,
            command=command,
        )
    )
    return path
