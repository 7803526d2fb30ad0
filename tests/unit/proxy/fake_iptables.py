"""A fake iptables that applies real iptables-restore text the way the kernel tool does.

It holds tables of chains of rule specs, applies `iptables-restore --noflush` input
atomically (all or nothing) and refuses what the real tool refuses: rules in or jumps to
chains that do not exist, deleting a chain that is still referenced or not empty, deleting
a rule that is not there, creating a chain twice. `save()` prints iptables-save text, which
the proxy parses back. Written for podplay's tests after kube-proxy's iptables fake.
"""

from __future__ import annotations

import copy
import shlex

BUILTIN = {
    "filter": ["INPUT", "FORWARD", "OUTPUT"],
    "nat": ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
    "mangle": ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
    "raw": ["PREROUTING", "OUTPUT"],
}
TARGETS = {
    "ACCEPT",
    "DROP",
    "RETURN",
    "REJECT",
    "DNAT",
    "SNAT",
    "MASQUERADE",
    "MARK",
    "CONNMARK",
    "LOG",
}


class RestoreError(Exception):
    """What iptables-restore prints when it fails (and the kernel keeps its old rules)."""


def target_of(spec: str) -> str | None:
    words = shlex.split(spec)
    for i, w in enumerate(words[:-1]):
        if w in ("-j", "-g"):
            return words[i + 1]
    return None


class FakeIptables:
    def __init__(self) -> None:
        self.tables: dict[str, dict[str, list[str]]] = {
            t: {c: [] for c in chains} for t, chains in BUILTIN.items()
        }
        self.policies: dict[str, dict[str, str]] = {
            t: dict.fromkeys(chains, "ACCEPT") for t, chains in BUILTIN.items()
        }
        self.restores: list[str] = []  # every input applied, for tests that count them

    # -- the restore language --------------------------------------------------------------
    def restore(self, text: str, noflush: bool = True) -> None:
        """Apply iptables-restore input atomically; raise RestoreError and change nothing."""
        tables = copy.deepcopy(self.tables)
        policies = copy.deepcopy(self.policies)
        table: str | None = None
        for lineno, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            try:
                if line.startswith("*"):
                    if table is not None:
                        raise RestoreError(f"table {table} not committed")
                    table = line[1:]
                    if table not in tables:
                        raise RestoreError(f"unknown table {table}")
                    if not noflush:
                        for chain in list(tables[table]):
                            if chain in BUILTIN[table]:
                                tables[table][chain] = []
                            else:
                                del tables[table][chain]
                    continue
                if table is None:
                    raise RestoreError("rule outside a table")
                if line == "COMMIT":
                    self._check_targets(tables[table], table)
                    table = None
                    continue
                self._apply(tables[table], policies[table], table, line)
            except RestoreError as err:
                raise RestoreError(f"line {lineno}: {err}: {line}") from None
        if table is not None:
            raise RestoreError(f"no COMMIT for table {table}")
        self.tables, self.policies = tables, policies
        self.restores.append(text)

    def _apply(self, chains: dict, policies: dict, table: str, line: str) -> None:
        if line.startswith(":"):
            name, policy = line[1:].split()[:2]
            if name in BUILTIN[table]:
                if policy == "-":
                    raise RestoreError(f"built-in chain {name} needs a policy")
                policies[name] = policy
            else:
                if len(name) > 28:
                    raise RestoreError(f"chain name {name} longer than 28")
                chains[name] = []  # create, or flush when it exists (--noflush semantics)
            return
        words = line.split(" ", 2)
        op, chain = words[0], words[1] if len(words) > 1 else ""
        rest = words[2] if len(words) > 2 else ""
        if op in ("-N", "-X", "-F") and rest:
            raise RestoreError("unexpected arguments")
        if op == "-N":
            if chain in chains:
                raise RestoreError(f"chain {chain} already exists")
            chains[chain] = []
        elif op == "-X":
            if chain not in chains or chain in BUILTIN[table]:
                raise RestoreError(f"cannot delete chain {chain}: no such user chain")
            if chains[chain]:
                raise RestoreError(f"cannot delete chain {chain}: not empty")
            for other, rules in chains.items():
                if any(target_of(r) == chain for r in rules):
                    raise RestoreError(f"cannot delete chain {chain}: used by {other}")
            del chains[chain]
        elif op == "-F":
            if chain not in chains:
                raise RestoreError(f"no chain {chain}")
            chains[chain] = []
        elif op == "-A":
            self._need_chain(chains, chain)
            self._check_spec(rest)
            chains[chain].append(self._canonical(rest))
        elif op == "-I":
            self._need_chain(chains, chain)
            pos_word, _, spec = rest.partition(" ")
            if pos_word.isdigit():
                pos = int(pos_word)
            else:
                pos, spec = 1, rest
            if not 1 <= pos <= len(chains[chain]) + 1:
                raise RestoreError("index of insertion too big")
            self._check_spec(spec)
            chains[chain].insert(pos - 1, self._canonical(spec))
        elif op == "-D":
            self._need_chain(chains, chain)
            spec = self._canonical(rest)
            if spec not in chains[chain]:
                raise RestoreError("bad rule (does a matching rule exist in that chain?)")
            chains[chain].remove(spec)
        else:
            raise RestoreError(f"unknown command {op}")

    @staticmethod
    def _need_chain(chains: dict, chain: str) -> None:
        if chain not in chains:
            raise RestoreError(f"chain {chain} does not exist")

    @staticmethod
    def _check_spec(spec: str) -> None:
        words = shlex.split(spec)
        if "DNAT" in words and "-p" not in words:
            raise RestoreError("DNAT with a port needs -p tcp/udp/sctp")
        if "--dport" in words and "-p" not in words:
            raise RestoreError("--dport needs -p")
        if target_of(spec) is None and "-j" in words:
            raise RestoreError("-j without target")

    @staticmethod
    def _canonical(spec: str) -> str:
        return " ".join(spec.split())

    @staticmethod
    def _check_targets(chains: dict, table: str) -> None:
        for chain, rules in chains.items():
            for rule in rules:
                target = target_of(rule)
                if target is not None and target not in TARGETS and target not in chains:
                    raise RestoreError(
                        f"rule in {chain} jumps to missing chain {target} (table {table})"
                    )

    # -- what iptables-save prints ---------------------------------------------------------
    def save(self, tables: tuple[str, ...] = ("filter", "nat")) -> str:
        out = []
        for table in tables:
            chains = self.tables[table]
            out.append("*" + table)
            for chain in BUILTIN[table]:
                out.append(f":{chain} {self.policies[table][chain]} [0:0]")
            for chain in sorted(c for c in chains if c not in BUILTIN[table]):
                out.append(f":{chain} - [0:0]")
            for chain in BUILTIN[table] + sorted(c for c in chains if c not in BUILTIN[table]):
                out.extend(f"-A {chain} {r}" for r in chains[chain])
            out.append("COMMIT")
        return "\n".join(out) + "\n"

    def flush_all(self) -> None:
        """What `iptables -F; iptables -X` (per table) does: the thing the canary notices."""
        for table, chains in self.tables.items():
            for chain in list(chains):
                if chain in BUILTIN[table]:
                    chains[chain] = []
                else:
                    del chains[chain]

    def chains(self, table: str, prefix: str = "") -> list[str]:
        return sorted(c for c in self.tables[table] if c.startswith(prefix))

    def dangling_jumps(self) -> list[str]:
        """Rules that jump to a chain that does not exist (must always be empty)."""
        bad = []
        for table, chains in self.tables.items():
            for chain, rules in chains.items():
                for rule in rules:
                    target = target_of(rule)
                    if target and target not in TARGETS and target not in chains:
                        bad.append(f"{table} {chain}: {rule}")
        return bad
