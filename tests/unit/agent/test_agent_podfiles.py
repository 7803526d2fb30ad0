"""A pod's hosts and resolv.conf as the agent writes them for its containers."""

from __future__ import annotations

from types import SimpleNamespace

from podplay.node.agent.podfiles import (
    HOSTS,
    RESOLV_CONF,
    PodFiles,
    hosts_text,
    node_resolv_conf_text,
    resolv_conf_text,
)


def dns(**kw):
    base = {"nameservers": ["10.96.0.10"], "searches": [], "options": []}
    return SimpleNamespace(**{**base, **kw})


def test_text_names_the_cluster_dns_searches_and_options():
    text = resolv_conf_text(
        dns(searches=["default.svc.cluster.local", "svc.cluster.local"], options=["ndots:5"])
    )
    assert text.splitlines()[1:] == [
        "nameserver 10.96.0.10",
        "search default.svc.cluster.local svc.cluster.local",
        "options ndots:5",
    ]


def test_hosts_names_the_pod_on_its_address_and_localhost():
    lines = hosts_text("10.244.1.7", "web-1").splitlines()
    assert "127.0.0.1\tlocalhost" in lines
    assert lines[-1] == "10.244.1.7\tweb-1"


def test_without_dns_settings_the_node_resolvers_serve_but_not_loopback_ones():
    node = "search example.org\nnameserver 127.0.0.11\nnameserver 192.0.2.53\noptions ndots:0\n"
    assert node_resolv_conf_text(node).splitlines()[1:] == [
        "search example.org",
        "nameserver 192.0.2.53",
        "options ndots:0",
    ]


class Api:
    def __init__(self, root):
        self.root = root
        self.calls = []

    def info(self):
        self.calls.append("info")
        return {"DockerRootDir": str(self.root)}


def test_written_into_the_sandbox_directory_found_once_and_mounted(tmp_path):
    api = Api(tmp_path)
    files = PodFiles(lambda: api)
    for cid in ("a" * 64, "b" * 64):
        (tmp_path / "containers" / cid).mkdir(parents=True)
        files.write(cid, "10.244.1.5", "web-1", dns())
    assert api.calls == ["info"]
    sandbox = tmp_path / "containers" / ("b" * 64)
    assert "nameserver 10.96.0.10" in (sandbox / RESOLV_CONF).read_text()
    assert "10.244.1.5\tweb-1" in (sandbox / HOSTS).read_text()
    assert files.binds("b" * 64) == [
        f"{sandbox / HOSTS}:/etc/hosts",
        f"{sandbox / RESOLV_CONF}:/etc/resolv.conf",
    ]


def test_a_sandbox_of_an_older_agent_has_no_files_and_no_mounts(tmp_path):
    cid = "c" * 64
    (tmp_path / "containers" / cid).mkdir(parents=True)
    (tmp_path / "containers" / cid / "resolv.conf").write_text("nameserver 127.0.0.11\n")
    assert PodFiles(lambda: Api(tmp_path)).binds(cid) == []


def test_no_dns_settings_copy_the_node_file(tmp_path):
    node = tmp_path / "node-resolv.conf"
    node.write_text("nameserver 127.0.0.53\nnameserver 198.51.100.1\n")
    cid = "d" * 64
    (tmp_path / "containers" / cid).mkdir(parents=True)
    PodFiles(lambda: Api(tmp_path), node_resolv_conf=str(node)).write(cid, "10.244.1.9", "x", None)
    text = (tmp_path / "containers" / cid / RESOLV_CONF).read_text()
    assert "198.51.100.1" in text and "127.0.0.53" not in text
