"""Docker's embedded-DNS rules in a node container: kept, and put back after a flush (pure).

A node that is itself a container on a user-defined Docker network (a local cluster) has
`nameserver 127.0.0.11` in /etc/resolv.conf: the outer engine's resolver listens on
127.0.0.11 at two random ports (UDP and TCP) inside the node's network namespace and adds
nat rules there that send port 53 to them:

    -A OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT
    -A POSTROUTING -d 127.0.0.11/32 -j DOCKER_POSTROUTING
    -A DOCKER_OUTPUT -d 127.0.0.11/32 -p udp -m udp --dport 53
        -j DNAT --to-destination 127.0.0.11:<udp port>
    -A DOCKER_POSTROUTING -s 127.0.0.11/32 -p udp -m udp --sport <udp port>
        -j SNAT --to-source :53
    (the same for tcp)

Cluster DNS forwards outside names to the node's resolvers, so podplay relies on them. The
engine writes them once, when the container starts: after `iptables -t nat -F` they are gone
for good (the node and every pod get SERVFAIL for outside names). So the repairer records
them while they are complete (`extract`, kept in /run: the ports change only when the node
container restarts, which empties /run) and writes them back when they are not
(`restore_lines`). With no record (flushed before it was first seen), the rules are derived
from the resolver's sockets in /proc/net/udp and /proc/net/tcp (`from_sockets`).

Why put the engine's rules back rather than point cluster DNS past them: the resolver at
127.0.0.11 is the only one that knows the other containers' names, and the servers it
forwards to are the outer host's (often a loopback stub there), unreachable from the node.
On a real host none of this exists: `extract` finds nothing and nothing is ever written.
"""

from __future__ import annotations

import json
from typing import Dict, List, NamedTuple, Optional, Tuple

RESOLVER_IP = "127.0.0.11"
CHAINS = ("DOCKER_OUTPUT", "DOCKER_POSTROUTING")
PARENTS = {"DOCKER_OUTPUT": "OUTPUT", "DOCKER_POSTROUTING": "POSTROUTING"}
_LOOPBACK_HEX = "0B00007F"  # 127.0.0.11 as /proc/net prints it (little-endian)
_TCP_LISTEN = "0A"


class EngineDns(NamedTuple):
    """The embedded-DNS rules as iptables-save prints them (nat table)."""

    chains: Dict[str, List[str]]  # chain -> its rules ("-A DOCKER_OUTPUT ...")
    jumps: List[str]  # "-A OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT", ...

    def to_json(self) -> str:
        return json.dumps({"chains": self.chains, "jumps": self.jumps}, indent=1, sort_keys=True)


def from_json(text: str) -> Optional[EngineDns]:
    """A record written by `to_json`; None when unreadable (then it is simply not used)."""
    try:
        doc = json.loads(text)
        chains = {str(c): [str(r) for r in doc["chains"][c]] for c in CHAINS}
        jumps = [str(j) for j in doc["jumps"]]
    except (ValueError, KeyError, TypeError):
        return None
    return EngineDns(chains, jumps)


def _nat_rules(save_text: str) -> Tuple[List[str], Dict[str, List[str]]]:
    """(chains declared, rules per chain) of the nat table in iptables-save output."""
    declared: List[str] = []
    rules: Dict[str, List[str]] = {}
    table = ""
    for line in save_text.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
        elif table == "nat" and line.startswith(":"):
            declared.append(line[1:].split()[0])
        elif table == "nat" and line.startswith("-A "):
            rules.setdefault(line.split()[1], []).append(line.strip())
    return declared, rules


def _jumps_into(chain: str, rules: Dict[str, List[str]]) -> List[str]:
    return [r for r in rules.get(PARENTS[chain], []) if r.split()[-2:] == ["-j", chain]]


def extract(save_text: str) -> Optional[EngineDns]:
    """The embedded-DNS rules when they are all there (both chains with rules, both jumped
    to); None otherwise: a half-flushed set is never recorded."""
    declared, rules = _nat_rules(save_text)
    chains: Dict[str, List[str]] = {}
    jumps: List[str] = []
    for chain in CHAINS:
        into = _jumps_into(chain, rules)
        if chain not in declared or not rules.get(chain) or not into:
            return None
        chains[chain] = list(rules[chain])
        jumps += into
    return EngineDns(chains, jumps)


def restore_lines(record: Optional[EngineDns], save_text: str) -> Tuple[List[str], List[str]]:
    """nat-table lines for `iptables-restore --noflush` that put the recorded rules back,
    and what they change; nothing when the rules are there (or nothing is recorded)."""
    if record is None:
        return [], []
    declared, rules = _nat_rules(save_text)
    lines: List[str] = []
    changes: List[str] = []
    for chain in CHAINS:
        if chain not in declared or rules.get(chain, []) != record.chains[chain]:
            lines.append(":%s - [0:0]" % chain)  # declaring flushes: the chain is rewritten whole
            lines.extend(record.chains[chain])
            changes.append("iptables nat chain %s (Docker's embedded DNS) restored" % chain)
        for jump in record.jumps:
            if jump.split()[-1] == chain and jump not in rules.get(PARENTS[chain], []):
                lines.append(jump)
                changes.append("iptables nat jump %s -> %s restored" % (PARENTS[chain], chain))
    return lines, changes


def _resolver_port(proc_net: str, listen_only: bool) -> Optional[int]:
    """The port of the socket bound to 127.0.0.11 in /proc/net/{udp,tcp} text."""
    for line in proc_net.splitlines()[1:]:
        words = line.split()
        if len(words) < 4 or ":" not in words[1]:
            continue
        address, port = words[1].split(":", 1)
        if address.upper() == _LOOPBACK_HEX and (not listen_only or words[3] == _TCP_LISTEN):
            return int(port, 16)
    return None


def from_sockets(proc_udp: str, proc_tcp: str) -> Optional[EngineDns]:
    """The rules Docker writes, rebuilt from its resolver's two sockets; None without them."""
    udp = _resolver_port(proc_udp, listen_only=False)
    tcp = _resolver_port(proc_tcp, listen_only=True)
    if udp is None or tcp is None:
        return None
    ip = RESOLVER_IP + "/32"
    out, post = [], []
    for proto, port in (("tcp", tcp), ("udp", udp)):
        out.append(
            "-A DOCKER_OUTPUT -d %s -p %s -m %s --dport 53 -j DNAT --to-destination %s:%d"
            % (ip, proto, proto, RESOLVER_IP, port)
        )
        post.append(
            "-A DOCKER_POSTROUTING -s %s -p %s -m %s --sport %d -j SNAT --to-source :53"
            % (ip, proto, proto, port)
        )
    jumps = ["-A %s -d %s -j %s" % (PARENTS[chain], ip, chain) for chain in CHAINS]
    return EngineDns({"DOCKER_OUTPUT": out, "DOCKER_POSTROUTING": post}, jumps)
