"""A packet tracer over FakeIptables: where does the first packet of a connection go?

It walks the netfilter hooks a new connection passes on one node (nat PREROUTING or OUTPUT,
then filter INPUT/FORWARD/OUTPUT, then nat POSTROUTING), evaluating the matches and targets
the proxy uses. `-m statistic` forks the walk, so a trace returns every possible outcome with
its probability; `-m recent` reads and (on `commit`) writes per-list client sets, so session
affinity can be followed across connections. An unknown match or target is an error: a
trace never silently ignores what it cannot evaluate.
"""

from __future__ import annotations

import ipaddress
import shlex
from dataclasses import dataclass, field, replace

from fake_iptables import BUILTIN, FakeIptables, target_of


@dataclass(frozen=True)
class Packet:
    src: str
    dst: str
    proto: str = "tcp"
    dport: int = 80
    origin: str = "pod"  # pod (from the pod bridge) | outside (from eth0) | node (local process)


@dataclass(frozen=True)
class Outcome:
    """Where one possible walk ended. `dest` is the address the packet finally heads to."""

    verdict: str  # ACCEPT | REJECT | DROP
    dest: str  # "ip:port" after DNAT, or the original destination
    dnat: bool
    masquerade: bool
    local: bool  # delivered to this node (INPUT) rather than forwarded
    recent_sets: tuple = ()  # (list name, client ip) recorded on this path


@dataclass
class _Walk:
    pkt: Packet
    dst: str
    dport: int
    mark: int = 0
    dnat: bool = False
    masq: bool = False
    prob: float = 1.0
    sets: tuple = ()


@dataclass
class Tracer:
    ipt: FakeIptables
    local_ips: set[str]  # the node's own addresses (addrtype LOCAL)
    node_pod_cidr: str  # this node's pod CIDR (out via the pod bridge)
    recent: dict[str, set[str]] = field(default_factory=dict)

    def trace(self, pkt: Packet) -> dict[Outcome, float]:
        """Every outcome of the first packet of a new connection, with its probability."""
        start = _Walk(pkt, pkt.dst, pkt.dport)
        hook = "OUTPUT" if pkt.origin == "node" else "PREROUTING"
        results: dict[Outcome, float] = {}
        for walk, verdict in self._chain(start, "nat", hook):
            assert verdict in ("ACCEPT", "DNAT", "MASQUERADE", "RETURN"), verdict
            for outcome, p in self._after_nat(walk):
                results[outcome] = results.get(outcome, 0.0) + p
        return results

    def commit(self, outcome: Outcome) -> None:
        """Record the client addresses `-m recent --set` stored on the path taken."""
        for name, ip in outcome.recent_sets:
            self.recent.setdefault(name, set()).add(ip)

    # -- hooks after the first nat decision ----------------------------------------------
    def _after_nat(self, walk: _Walk):
        local = walk.dst in self.local_ips
        if walk.pkt.origin == "node":
            hooks = [("filter", "OUTPUT")] + ([("filter", "INPUT")] if local else [])
        else:
            hooks = [("filter", "INPUT" if local else "FORWARD")]
        walks = [(walk, "ACCEPT")]
        for table, chain in hooks:
            nxt = []
            for w, verdict in walks:
                if verdict != "ACCEPT":
                    nxt.append((w, verdict))
                    continue
                nxt.extend(self._chain(w, table, chain))
            walks = nxt
        for w, verdict in walks:
            verdict = {"RETURN": "ACCEPT"}.get(verdict, verdict)
            if verdict == "ACCEPT" and not local:
                for w2, _ in self._chain(w, "nat", "POSTROUTING"):
                    yield self._outcome(w2, "ACCEPT", local), w2.prob
            else:
                yield self._outcome(w, verdict, local), w.prob

    @staticmethod
    def _outcome(w: _Walk, verdict: str, local: bool) -> Outcome:
        return Outcome(verdict, f"{w.dst}:{w.dport}", w.dnat, w.masq, local, w.sets)

    # -- chain walking ------------------------------------------------------------------------
    def _chain(self, walk: _Walk, table: str, chain: str, depth: int = 0):
        """Yield (walk, verdict) for every branch; verdict RETURN means fell off the end."""
        if depth > 20:
            raise AssertionError(f"jump loop through {chain}")
        rules = self.ipt.tables[table][chain]
        yield from self._rules(walk, table, chain, rules, 0, depth)

    def _rules(self, walk, table, chain, rules, start, depth):
        for idx in range(start, len(rules)):
            spec = rules[idx]
            branches = self._match(walk, spec)
            if not branches:
                continue
            matched, unmatched = branches
            if unmatched is not None:  # statistic fork: also follow the "no match" branch
                yield from self._rules(unmatched, table, chain, rules, idx + 1, depth)
            walk = matched
            target = target_of(spec)
            if target is None:
                continue
            words = shlex.split(spec)
            if target == "MARK":
                value, _, mask = words[words.index("--set-xmark") + 1].partition("/")
                walk = replace(walk, mark=(walk.mark & ~int(mask, 16)) ^ int(value, 16))
                continue
            if target in ("ACCEPT", "DROP", "REJECT"):
                yield walk, target
                return
            if target == "RETURN":
                yield walk, "RETURN"
                return
            if target == "DNAT":
                to = words[words.index("--to-destination") + 1]
                ip, _, port = to.partition(":")
                yield replace(walk, dst=ip, dport=int(port or walk.dport), dnat=True), "DNAT"
                return
            if target == "MASQUERADE":
                yield replace(walk, masq=True), "MASQUERADE"
                return
            if target in self.ipt.tables[table]:
                for sub, verdict in self._chain(walk, table, target, depth + 1):
                    if verdict == "RETURN":
                        yield from self._rules(sub, table, chain, rules, idx + 1, depth)
                    else:
                        yield sub, verdict
                return
            raise AssertionError(f"tracer cannot follow target {target} in {spec}")
        if chain in BUILTIN[table]:
            yield walk, self.ipt.policies[table][chain]
        else:
            yield walk, "RETURN"

    def _match(self, walk: _Walk, spec: str):
        """(walk if matched, walk if the statistic branch did not match) or None."""
        words = shlex.split(spec)
        pkt = walk.pkt
        fork = None
        i = 0
        negate = False
        module = None
        while i < len(words):
            w = words[i]
            if w == "!":
                negate = True
                i += 1
                continue
            if w in ("-j", "-g"):
                break
            if w in ("-s", "-d"):
                net = ipaddress.ip_network(words[i + 1], strict=False)
                addr = pkt.src if w == "-s" else walk.dst
                if (ipaddress.ip_address(addr) in net) == negate:
                    return None
                i += 2
            elif w == "-p":
                if (pkt.proto == words[i + 1]) == negate:
                    return None
                i += 2
            elif w in ("-i", "-o"):
                iface = self._in_iface(pkt) if w == "-i" else self._out_iface(walk)
                pattern = words[i + 1]
                ok = iface == pattern or (pattern.endswith("+") and iface.startswith(pattern[:-1]))
                if ok == negate:
                    return None
                i += 2
            elif w == "-m":
                module = words[i + 1]
                i += 2
            elif w == "--comment":
                i += 2
            elif w == "--dport":
                if (walk.dport == int(words[i + 1])) == negate:
                    return None
                i += 2
            elif w == "--dports":  # multiport: a comma-separated list (no ranges used here)
                ports = {int(p) for p in words[i + 1].split(",")}
                if (walk.dport in ports) == negate:
                    return None
                i += 2
            elif w == "--dst-type":
                is_local = walk.dst in self.local_ips
                if ((words[i + 1] == "LOCAL") == is_local) == negate:
                    return None
                i += 2
            elif w == "--mark":
                value, _, mask = words[i + 1].partition("/")
                m = int(mask or "0xffffffff", 16)
                if ((walk.mark & m) == int(value, 16)) == negate:
                    return None
                i += 2
            elif w == "--ctstate":
                states = words[i + 1].split(",")
                if ("NEW" in states) == negate:  # the traced packet always opens a connection
                    return None
                i += 2
            elif w == "--mode":
                i += 2
            elif w == "--probability":
                p = float(words[i + 1])
                fork = replace(walk, prob=walk.prob * (1 - p))
                walk = replace(walk, prob=walk.prob * p)
                i += 2
            elif module == "recent":
                name = words[words.index("--name") + 1]
                if "--rcheck" in words:
                    if (pkt.src in self.recent.get(name, set())) == negate:
                        return None
                elif "--set" in words:
                    walk = replace(walk, sets=(*walk.sets, (name, pkt.src)))
                else:
                    raise AssertionError(f"unsupported recent use: {spec}")
                while i < len(words) and words[i] not in ("-j", "-g", "-m"):
                    i += 1
            else:
                raise AssertionError(f"tracer does not understand {w!r} in {spec}")
            negate = False
        return walk, fork

    @staticmethod
    def _in_iface(pkt: Packet) -> str:
        return {"pod": "podplay0", "outside": "eth0", "node": "lo"}[pkt.origin]

    def _out_iface(self, walk: _Walk) -> str:
        if ipaddress.ip_address(walk.dst) in ipaddress.ip_network(self.node_pod_cidr):
            return "podplay0"
        return "eth0"


def endpoints(outcomes: dict[Outcome, float]) -> dict[str, float]:
    """{destination: probability} of the accepted outcomes, rounded for comparison."""
    result: dict[str, float] = {}
    for outcome, p in outcomes.items():
        if outcome.verdict == "ACCEPT":
            result[outcome.dest] = round(result.get(outcome.dest, 0.0) + p, 6)
    return result


def only(outcomes: dict[Outcome, float]) -> Outcome:
    """The single outcome of a deterministic trace."""
    assert len(outcomes) == 1, outcomes
    return next(iter(outcomes))
