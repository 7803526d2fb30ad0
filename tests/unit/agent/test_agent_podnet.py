"""How the agent plugs a sandbox into the pod bridge (the `ip` commands, recorded)."""

from __future__ import annotations

import os

import pytest

from podplay.node.agent.podnet import (
    PodBridge,
    PodNetwork,
    PodNetworkError,
    host_end,
    mac_address,
)

BRIDGE = PodBridge("podplay0", "10.244.1.1", 24, 1500)
SANDBOX = "0123456789abcdef" * 4


def test_bridge_from_the_engine_network_record():
    net = {
        "Name": "podplay",
        "Id": "f" * 64,
        "Options": {"com.docker.network.bridge.name": "podplay0"},
        "IPAM": {"Config": [{"Subnet": "10.244.1.0/24", "Gateway": "10.244.1.1"}]},
    }
    assert PodBridge.from_network(net) == BRIDGE
    mtu = {**net, "Options": {**net["Options"], "com.docker.network.driver.mtu": "1450"}}
    assert PodBridge.from_network(mtu).mtu == 1450
    unnamed = {**net, "Options": {}}
    assert PodBridge.from_network(unnamed).name == "br-ffffffffffff"  # Docker's own naming
    with pytest.raises(PodNetworkError, match="podplay has no subnet"):
        PodBridge.from_network({**net, "IPAM": {"Config": []}})


def test_names_fit_linux_and_the_mac_follows_the_address():
    assert host_end(SANDBOX) == "pp0123456789ab" and len(host_end(SANDBOX)) <= 15
    assert mac_address("10.244.1.7") == "02:42:0a:f4:01:07"


class Recorder:
    def __init__(self, netns_dir, fail_inside=False):
        self.netns_dir = netns_dir
        self.calls = []
        self.fail_inside = fail_inside

    def __call__(self, args, batch):
        if args:  # in the pod's namespace: named by a link to the sandbox's
            link = os.path.join(self.netns_dir, args[1])
            self.calls.append((args, batch, os.readlink(link)))
            if self.fail_inside:
                raise PodNetworkError("RTNETLINK answers: File exists")
        else:
            self.calls.append((args, batch, None))


def test_attach_makes_the_pair_then_configures_the_pod_side(tmp_path):
    rec = Recorder(str(tmp_path))
    lookups = []
    net = PodNetwork(lambda: lookups.append(1) or BRIDGE, run=rec, netns_dir=str(tmp_path))
    net.attach(SANDBOX, 4242, "10.244.1.7")
    net.attach("f" * 64, 4343, "10.244.1.8")
    assert len(lookups) == 1  # the bridge is looked up once
    outside, inside = rec.calls[0], rec.calls[1]
    assert outside[1] == [
        "link add pp0123456789ab mtu 1500 type veth peer name eth0 mtu 1500"
        " address 02:42:0a:f4:01:07 netns 4242",
        "link set pp0123456789ab master podplay0 up",
    ]
    assert inside == (
        ["-n", "podplay-0123456789ab"],
        [
            "addr add 10.244.1.7/24 dev eth0",
            "link set lo up",
            "link set eth0 up",
            "route add default via 10.244.1.1 dev eth0",
        ],
        "/proc/4242/ns/net",
    )
    assert os.listdir(tmp_path) == []  # the namespace links are gone again


def test_a_failure_says_why_and_leaves_no_link(tmp_path):
    rec = Recorder(str(tmp_path), fail_inside=True)
    net = PodNetwork(lambda: BRIDGE, run=rec, netns_dir=str(tmp_path))
    with pytest.raises(PodNetworkError, match="File exists"):
        net.attach(SANDBOX, 4242, "10.244.1.7")
    assert os.listdir(tmp_path) == []
    with pytest.raises(PodNetworkError, match="not running"):
        net.attach(SANDBOX, 0, "10.244.1.7")
