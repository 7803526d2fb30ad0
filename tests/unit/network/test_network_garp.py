"""The gratuitous ARP frame the repairer sends when the uplink comes back (garp.py)."""

from __future__ import annotations

import pytest

from podplay.node.network.garp import garp_frame, mac_bytes


def test_the_frame_is_a_broadcast_arp_request_for_our_own_address():
    frame = garp_frame("02:42:ac:1e:05:0b", "172.30.5.11")
    mac, ip = bytes.fromhex("0242ac1e050b"), bytes([172, 30, 5, 11])
    assert frame[:6] == b"\xff" * 6  # to everyone on the segment
    assert frame[6:12] == mac
    assert frame[12:14] == b"\x08\x06"  # ARP
    arp = frame[14:]
    assert arp[:8] == bytes.fromhex("0001080006040001")  # Ethernet/IPv4, request
    assert arp[8:14] == mac and arp[14:18] == ip  # sender: us
    assert arp[18:24] == b"\x00" * 6 and arp[24:28] == ip  # target: our own address
    assert len(frame) == 42


@pytest.mark.parametrize("bad", ["", "02:42:ac:1e:05", "02:42:ac:1e:05:zz"])
def test_a_bad_mac_is_refused(bad):
    with pytest.raises(ValueError):
        mac_bytes(bad)
