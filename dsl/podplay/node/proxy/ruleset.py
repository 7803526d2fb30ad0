"""A ruleset as data, and the iptables-restore text that makes the kernel match it.

`Ruleset` holds the proxy's PODPLAY-* chains per table (rules in iptables-save's canonical
form, without the leading `-A CHAIN`) plus the jump rules that lead into them from the
built-in chains. `restore_text` turns a desired ruleset into ONE `iptables-restore --noflush`
input, either in full (every chain written, stale chains deleted, missing jump rules
inserted: used at start, after a failure and after a flush) or as a difference from what was
last applied (only changed chains are rewritten: what keeps a one-endpoint change cheap with
thousands of services). `parse_save` reads `iptables-save` output into the same shapes.

Chains named PODPLAY-NET-* belong to the network setup and are never written or deleted here.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Dict, Iterable, List, NamedTuple, Optional, Tuple

PREFIX = "PODPLAY-"
FOREIGN_PREFIXES = ("PODPLAY-NET-",)
TABLES = ("filter", "nat")
BUILTIN_CHAINS = {
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
}


def is_own_chain(name: str) -> bool:
    """True for chains this proxy owns: PODPLAY-* except the network setup's PODPLAY-NET-*."""
    return name.startswith(PREFIX) and not name.startswith(FOREIGN_PREFIXES)


class Jump(NamedTuple):
    """A rule in a built-in chain that leads into one of our chains (`spec` ends in -j X)."""

    table: str
    chain: str
    spec: str


def target_of(spec: str) -> Optional[str]:
    """The -j/-g target of a rule spec, or None."""
    words = spec.split()
    for i, word in enumerate(words[:-1]):
        if word in ("-j", "-g", "--jump", "--goto"):
            return words[i + 1]
    return None


class Ruleset:
    """Desired chains per table, in order, and the jumps into them."""

    def __init__(self) -> None:
        self.tables: Dict[str, "OrderedDict[str, List[str]]"] = {t: OrderedDict() for t in TABLES}
        self.jumps: List[Jump] = []

    def chain(self, table: str, name: str) -> List[str]:
        """The rule list of a chain, created (empty) on first use."""
        return self.tables[table].setdefault(name, [])

    def add(self, table: str, chain: str, spec: str) -> None:
        self.chain(table, chain).append(spec)

    def jump(self, table: str, chain: str, spec: str) -> None:
        self.jumps.append(Jump(table, chain, spec))

    def rule_count(self) -> int:
        return sum(len(rules) for chains in self.tables.values() for rules in chains.values())


class Current(NamedTuple):
    """What the kernel holds now, as far as the proxy cares (from `iptables-save`)."""

    chains: Dict[str, Dict[str, List[str]]]  # table -> chain -> rule specs (all chains)

    def own_chains(self, table: str) -> List[str]:
        return [c for c in self.chains.get(table, {}) if is_own_chain(c)]

    def rules(self, table: str, chain: str) -> List[str]:
        return self.chains.get(table, {}).get(chain, [])


EMPTY = Current({t: {c: [] for c in BUILTIN_CHAINS[t]} for t in TABLES})


def parse_save(text: str) -> Current:
    """Parse `iptables-save` output (all tables, or some) into a Current."""
    chains: Dict[str, Dict[str, List[str]]] = {}
    table: Optional[str] = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("*"):
            table = line[1:]
            chains.setdefault(table, {})
        elif line == "COMMIT":
            table = None
        elif table is None:
            continue
        elif line.startswith(":"):
            chains[table].setdefault(line[1:].split()[0], [])
        elif line.startswith("-A "):
            _, chain, spec = line.split(" ", 2) if line.count(" ") >= 2 else (line, "", "")
            chains[table].setdefault(chain, []).append(spec)
    return Current(chains)


def _declare(chain: str) -> str:
    return ":%s - [0:0]" % chain


def restore_text(
    desired: Ruleset,
    current: Optional[Current] = None,
    applied: Optional[Ruleset] = None,
) -> str:
    """The iptables-restore --noflush input that turns the kernel into `desired`.

    Full mode (`applied` is None): every desired chain that `current` does not hold exactly
    is written; every own chain found in `current` and not desired is flushed and deleted;
    jump rules are inserted where missing and duplicates or stale jumps into own chains
    removed (`current` None means a clean kernel). Partial mode (`applied` given, the
    ruleset of the last successful restore): only chains whose rules differ are rewritten
    and chains no longer desired deleted; jump rules are assumed in place (the canary check
    catches a flush and forces a full sync).
    Returns "" when there is nothing to do.
    """
    current = current or EMPTY
    out: List[str] = []
    for table in TABLES:
        want = desired.tables[table]
        if applied is None:
            existing = set(current.own_chains(table))
            # chains the kernel already holds word for word are left alone (rules are
            # rendered in iptables-save's canonical form, so equal text is equal rules)
            write = [c for c in want if c not in existing or current.rules(table, c) != want[c]]
            jump_lines = _jump_fixes(table, desired.jumps, current)
        else:
            before = applied.tables[table]
            write = [c for c in want if before.get(c) != want[c]]
            existing = set(before)
            jump_lines = []
        stale = sorted(c for c in existing if c not in want and is_own_chain(c))
        if not write and not stale and not jump_lines:
            continue
        out.append("*" + table)
        out.extend(_declare(c) for c in write)
        out.extend(_declare(c) for c in stale)
        for chain in write:
            out.extend("-A %s %s" % (chain, spec) for spec in want[chain])
        out.extend(jump_lines)
        out.extend("-X %s" % c for c in stale)
        out.append("COMMIT")
    return "\n".join(out) + "\n" if out else ""


def _jump_fixes(table: str, jumps: Iterable[Jump], current: Current) -> List[str]:
    """-D lines for duplicate/stale/misplaced jumps, then -I lines for missing ones."""
    wanted: "OrderedDict[str, List[str]]" = OrderedDict()
    for jump in jumps:
        if jump.table == table:
            wanted.setdefault(jump.chain, []).append(jump.spec)
    deletes: List[str] = []
    inserts: List[str] = []
    chains = list(BUILTIN_CHAINS[table]) + [
        c for c in current.chains.get(table, {}) if c not in BUILTIN_CHAINS[table]
    ]
    for chain in chains:
        specs = wanted.get(chain, [])
        rules = current.rules(table, chain)
        ours = [r for r in rules if is_own_chain(target_of(r) or "")]
        if chain not in BUILTIN_CHAINS[table] and not specs:
            if is_own_chain(chain):
                continue  # our own chains are rewritten whole
            # a jump into our chains from a chain we do not own (e.g. left by an old version)
            deletes.extend("-D %s %s" % (chain, r) for r in ours)
            continue
        # Ours must come first in the built-in chain, in the order given; anything else
        # (missing, duplicated, stale, or pushed below another rule) is fixed by deleting
        # our rules there and inserting the wanted ones at the top.
        if rules[: len(specs)] == specs and len(ours) == len(specs):
            continue
        deletes.extend("-D %s %s" % (chain, r) for r in ours)
        inserts.extend("-I %s %d %s" % (chain, i + 1, spec) for i, spec in enumerate(specs))
    return deletes + inserts


def chain_count(ruleset: Ruleset) -> Tuple[int, int]:
    """(chains, rules) in a ruleset, for logs and benchmarks."""
    return sum(len(c) for c in ruleset.tables.values()), ruleset.rule_count()
