"""keepalived.conf follows the interface that holds the node's address (pure text edits).

The proxy role writes /etc/keepalived/keepalived.conf with the name of the interface that
held the node address at converge time (`interface eth0`, `<ip>/32 dev eth0`). Interface
names are not stable: a node container disconnected from its network and connected again
gets its address back on `eth1`, and keepalived, still bound to `eth0`, holds nothing. The
repairer owns exactly those names in the file: when an interface the file names no longer
exists and another one holds the node address, it rewrites the names (`retarget`), leaving
every other byte alone, and reloads keepalived.

Why rewrite rather than give the uplink a stable name: renaming an interface needs it down
(an outage of its own), the engine that made it finds it by its name when disconnecting, and
on a real host the uplink's name belongs to the host's own network setup. An interface
named by the user (`podplay_lb.interface`) that still exists is never touched.
"""

from __future__ import annotations

import re
from typing import Iterable, List, Optional

KEEPALIVED_CONF = "/etc/keepalived/keepalived.conf"

_INTERFACE = re.compile(r"^(\s*interface\s+)(\S+)(.*)$")
_DEV = re.compile(r"^(\s*\S+\s.*?\bdev\s+)(\S+)(.*)$")


def _match(line: str) -> Optional["re.Match[str]"]:
    if line.lstrip().startswith(("#", "!")):
        return None
    return _INTERFACE.match(line) or _DEV.match(line)


def named_interfaces(text: str) -> List[str]:
    """Interfaces the file names (`interface X` lines, `dev X` of addresses), in order, once."""
    seen: List[str] = []
    for line in text.splitlines():
        m = _match(line)
        if m and m.group(2) not in seen:
            seen.append(m.group(2))
    return seen


def retarget(text: str, interface: str) -> str:
    """The same file with every named interface replaced by `interface`."""
    out = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        m = _match(body)
        if m:
            line = m.group(1) + interface + m.group(3) + line[len(body) :]
        out.append(line)
    return "".join(out)


def needs_retarget(text: str, uplink: Optional[str], links: Iterable[str]) -> bool:
    """True when the file names an interface that is gone while `uplink` holds the address."""
    if not uplink:
        return False
    present = set(links)
    named = named_interfaces(text)
    return any(name not in present for name in named) and named != [uplink]
