"""`podplay up` on real hosts it did not make: plain Debian with sshd, python3 and sudo.

The program lists the hosts by address (`pp.Node(address=..., user="admin")`, so Ansible
becomes root with sudo); `up` must install the Docker engine and etcd from Debian's packages,
put the node bundle, agent, proxy and store in place, and serve the NodePort on every host;
a second `up` changes nothing. The tests run in file order and share the hosts.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from conftest import RealHosts
from hosts_kit import USER, subnet_of

REPO = Path(__file__).resolve().parents[2]
PODPLAY = str(Path(sys.executable).parent / "podplay")
NODE_PORT = 30080

PROGRAM = """\
import podplay as pp

pp.Cluster("{cluster}", {where}, lb_pool="{lb_pool}")
image = pp.Image("hello", context="images/hello")
hello = pp.Deployment(
    "hello",
    replicas=3,
    containers=[
        pp.Container(
            "hello", image=image, ports=[8080], readiness=pp.HttpProbe("/", 8080, period=2)
        )
    ],
)
web = pp.Service(
    "hello", selector=hello, type="NodePort",
    ports=[pp.ServicePort(80, target_port=8080, node_port={node_port})],
)
pp.export("node_port", web.node_port())
lb = pp.Service(
    "hello-lb", selector=hello, type="LoadBalancer",
    ports=[pp.ServicePort(80, target_port=8080)],
)
pp.export("lb_ip", lb.external_ip)
"""


@pytest.fixture(scope="module")
def program(real_hosts: RealHosts, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The program beside a copy of the hello image's context, in a directory of its own."""
    root = tmp_path_factory.mktemp("app")
    shutil.copytree(REPO / "examples" / "images" / "hello", root / "images" / "hello")
    nodes = "".join(
        f'\n        pp.Node("{h.name}", "{h.address}", user="{USER}", ssh_key="{real_hosts.key}"),'
        for h in real_hosts.hosts
    )
    path = root / "app.py"
    where = f"nodes=[{nodes}\n    ]"
    path.write_text(source(real_hosts, where))
    return path


def lb_pool(real_hosts: RealHosts) -> str:
    """Four free addresses at the top of the hosts' own network (as example-ssh's pool)."""
    net = subnet_of(real_hosts.hosts)
    return f"{net.network_address + 240}-{net.network_address + 243}"


def source(real_hosts: RealHosts, where: str) -> str:
    return PROGRAM.format(
        cluster=real_hosts.cluster, where=where, node_port=NODE_PORT, lb_pool=lb_pool(real_hosts)
    )


def write_inventory(path: Path, real_hosts: RealHosts) -> Path:
    """The same hosts as an inventory shaped like inventories/example-ssh/hosts.yml."""
    nodes = [
        {"name": h.name, "address": h.address, "pod_cidr": f"10.244.{i}.0/24"}
        for i, h in enumerate(real_hosts.hosts, 1)
    ]
    hosts = {
        n["name"]: {
            "ansible_host": n["address"],
            "podplay_node_address": n["address"],
            "podplay_node_pod_cidr": n["pod_cidr"],
        }
        for n in nodes
    }
    cluster_vars = {
        "ansible_user": USER,
        "ansible_become": True,
        "ansible_ssh_private_key_file": str(real_hosts.key),
        "ansible_python_interpreter": "/usr/bin/python3",
        "podplay_cluster_name": real_hosts.cluster,
        "podplay_pod_cidr": "10.244.0.0/16",
        "podplay_service_cidr": "10.96.0.0/16",
        "podplay_dns_ip": "10.96.0.10",
        "podplay_lb_pool": lb_pool(real_hosts),
        "podplay_nodes": nodes,
    }
    members = {"control_plane": {"hosts": dict.fromkeys(hosts)}}
    group = {"nodes": {"hosts": hosts, "children": members}}
    inventory = {"all": {"vars": cluster_vars, "children": group}}
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))
    return path


def podplay(real_hosts: RealHosts, *args: str, timeout: float = 1500) -> str:
    """The podplay command as a user runs it (their known_hosts has the hosts' keys)."""
    done = subprocess.run(
        [PODPLAY, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 0, f"rc={done.returncode}\n{done.stdout[-5000:]}\n{done.stderr}"
    return done.stdout


def http(url: str, timeout: float = 5) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.read().decode()


def test_hosts_are_plain_debian_with_sudo(real_hosts: RealHosts) -> None:
    for host in real_hosts.hosts:
        assert real_hosts.ssh(host, "id -un").strip() == USER
        assert real_hosts.ssh(host, "sudo -n id -u").strip() == "0"
        assert "bookworm" in real_hosts.ssh(host, "cat /etc/os-release")
        missing = real_hosts.ssh(
            host, "for b in docker dockerd etcd iptables ip; do command -v $b || echo no-$b; done"
        )
        assert missing.split() == ["no-docker", "no-dockerd", "no-etcd", "no-iptables", "no-ip"]
        assert "absent" in real_hosts.ssh(host, "test -e /opt/podplay || echo absent")


def test_up_installs_engine_store_agent_proxy_and_serves(
    real_hosts: RealHosts, program: Path
) -> None:
    started = time.monotonic()
    out = podplay(real_hosts, "up", str(program), "-y")
    print(f"first up: {time.monotonic() - started:.0f} s\n{out[-1500:]}")
    for host in real_hosts.hosts:
        packages = real_hosts.ssh(
            host, "dpkg-query -W -f '${Package} ${Status}\\n' docker.io etcd-server crun"
        )
        assert packages.count("install ok installed") == 3, packages
        # the pods' runtime, registered by the runtime role (a reload: no container stopped)
        runtimes = real_hosts.ssh(
            host,
            "sudo docker inspect -f '{{.HostConfig.Runtime}}' "
            "$(sudo docker ps -q --filter label=io.podplay.pod)",
        )
        assert runtimes.split() and set(runtimes.split()) == {"crun"}, runtimes
        units = "docker podplay-agent podplay-proxy podplay-network etcd podplay-controller"
        active = real_hosts.ssh(host, f"systemctl is-active {units} keepalived", check=False)
        assert active.split() == ["active"] * 7, f"{host.name}: {active}"
        health = real_hosts.ssh(host, "sudo python3 /opt/podplay/podplay-node.pyz store health")
        assert health, f"{host.name}: the store answered nothing"
        assert "hello from podplay" in http(f"http://{host.address}:{NODE_PORT}/")
    match = re.search(r"^\s*lb_ip\s+(\S+)", out, re.M)
    assert match, out
    lb_ip = match.group(1)
    assert ipaddress.IPv4Address(lb_ip) in subnet_of(real_hosts.hosts)
    deadline = time.monotonic() + 30  # keepalived elects a holder within a few adverts
    while True:
        holders = [h for h in real_hosts.hosts if f" {lb_ip}/" in real_hosts.ssh(h, "ip -4 -o a")]
        if len(holders) == 1 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert len(holders) == 1, f"{lb_ip} held by {[h.name for h in holders]}"
    assert "hello from podplay" in http(f"http://{lb_ip}/")


def test_second_up_changes_nothing(real_hosts: RealHosts, program: Path) -> None:
    started = time.monotonic()
    out = podplay(real_hosts, "up", str(program), "-y")
    print(f"second up: {time.monotonic() - started:.0f} s\n{out[-800:]}")
    assert "Resources: no changes" in out, out
    assert "ansible changed=0" in out, out
    for host in real_hosts.hosts:
        assert "hello from podplay" in http(f"http://{host.address}:{NODE_PORT}/")


def test_the_same_hosts_from_an_inventory_change_nothing(
    real_hosts: RealHosts, program: Path
) -> None:
    """Listed in an inventory of the example-ssh shape instead (same directory, so the same
    stack): the plan and the hosts are the same, so `up` has nothing to do."""
    write_inventory(program.parent / "hosts.yml", real_hosts)
    by_inventory = program.parent / "by_inventory.py"
    by_inventory.write_text(source(real_hosts, 'inventory="hosts.yml"'))
    out = podplay(real_hosts, "up", str(by_inventory), "-y")
    print(f"up from the inventory:\n{out[-800:]}")
    assert "Resources: no changes" in out, out
    assert "ansible changed=0" in out, out
