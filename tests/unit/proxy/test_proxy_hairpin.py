"""Finding the pod bridge ports that still need hairpin mode (over a fake sysfs tree)."""

from __future__ import annotations

from pathlib import Path

from podplay.node.proxy.hairpin import ports_without_hairpin


def make_port(sys_net: Path, bridge: str, port: str, mode: str) -> None:
    d = sys_net / bridge / "brif" / port
    d.mkdir(parents=True)
    (d / "hairpin_mode").write_text(mode + "\n")


def test_ports_without_hairpin(tmp_path: Path):
    make_port(tmp_path, "podplay0", "veth1", "0")
    make_port(tmp_path, "podplay0", "veth2", "1")
    make_port(tmp_path, "podplay0", "veth3", "0")
    make_port(tmp_path, "docker0", "veth9", "0")
    assert ports_without_hairpin("podplay0", str(tmp_path)) == ["veth1", "veth3"]


def test_missing_bridge_means_nothing_to_do(tmp_path: Path):
    assert ports_without_hairpin("podplay0", str(tmp_path)) == []


def test_the_bridge_is_found_by_the_gateway_address_as_the_uplink_is(monkeypatch) -> None:
    """The same lookup as the repairer's (`ip -j addr show`, `@` suffix dropped); with no
    interface holding the gateway, the pod bridge's default name."""
    from podplay.node.proxy import hairpin
    from podplay.node.util import uplink

    gateway = {"family": "inet", "local": "10.244.1.1"}
    links = [{"ifindex": 4, "ifname": "cbr0@if3", "addr_info": [gateway]}]
    monkeypatch.setattr(uplink, "read_links", lambda: links)
    assert hairpin.bridge_of("10.244.1.1") == "cbr0"
    assert hairpin.bridge_of("10.244.9.1") == "podplay0"
