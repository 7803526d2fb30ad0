"""The machine's routes count as used address space when choosing a cluster subnet."""

from __future__ import annotations

import ipaddress

from podplay.substrate.docker_provider import parse_proc_route

PROC_ROUTE = """\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t0100A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
"""


def test_parse_proc_route_skips_default_and_decodes_little_endian():
    assert parse_proc_route(PROC_ROUTE) == [
        ipaddress.IPv4Network("192.168.0.0/24"),
        ipaddress.IPv4Network("172.17.0.0/16"),
    ]
