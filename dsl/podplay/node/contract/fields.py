"""Field readers of every node contract (pod manifests, cluster.json, agent.json,
network.json, store.json, the store's records, the proxy status): each returns the value or
raises ContractError with one wording, "<where>: <field>: <what is allowed>", for example
"default_web-1.json: containers[0].image: missing (a non-empty string is required)" or
"/etc/podplay/agent.json: api_port: expected a port number 1-65535, got 70000": the words
the agent reports as a Failed pod's message, a module as its failure, a daemon in its log.

`where` is the file (or input) plus the path so far; `sep` joins it to the field: ": " at
the top of the document, "." below it.
"""

from __future__ import annotations

import ipaddress
import math
import re
from typing import Any, Dict, Mapping, Optional, Tuple

from podplay.node.contract.errors import ContractError

MAX_SECONDS = 2**31 - 1  # seconds fields are int32, as in the Kubernetes API (and finite)

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def sep_after(where: str) -> str:
    """How a field joins `where`: ": " after a file, an input or a record's name, "." after
    a path inside one ("cluster.json: nodes[0]" + ".address")."""
    return "." if ": " in where else ": "


def child(where: str, field: str) -> str:
    """The `where` of a field's own fields ("binding" -> "binding: requests")."""
    return where + sep_after(where) + field


def document(doc: Any, where: str, what: str = "a JSON object") -> Dict[str, Any]:
    """The object a record is read from (the whole file, or a nested object)."""
    if not isinstance(doc, dict):
        raise ContractError("%s: expected %s, got %s" % (where, what, kind(doc)))
    return doc


def only(doc: Mapping[str, Any], known: Tuple[str, ...], where: str, sep: str = ": ") -> None:
    """Strict about names: a field this contract does not know is an error, so a field
    renamed on one side only is caught where it is read, not taken for an absent one."""
    unknown = sorted(set(doc) - set(known))
    if unknown:
        raise ContractError("%s%s%s: unknown field" % (where, sep, unknown[0]))


def string(doc: Mapping[str, Any], field: str, where: str, sep: str = ": ") -> str:
    """A required non-empty string."""
    v = doc.get(field)
    if v is None:
        raise ContractError(
            "%s%s%s: missing (a non-empty string is required)" % (where, sep, field)
        )
    if not isinstance(v, str) or not v:
        raise ContractError("%s%s%s: expected a non-empty string, got %r" % (where, sep, field, v))
    return v


def required(doc: Mapping[str, Any], field: str, where: str, typ: Any, sep: str = ": ") -> Any:
    """A value of type `typ` (str, int, bool, dict, list or NUMBER) that must be there."""
    v = doc.get(field)
    if v is None:
        raise ContractError(
            "%s%s%s: missing (%s is required)" % (where, sep, field, type_name(typ))
        )
    return optional(doc, field, where, typ, sep)


def optional(doc: Mapping[str, Any], field: str, where: str, typ: Any, sep: str = ": ") -> Any:
    """A value of type `typ`, or None when the field is absent or null."""
    v = doc.get(field)
    if v is None:
        return None
    if not _is(v, typ):
        raise ContractError("%s%s%s: expected %s, got %r" % (where, sep, field, type_name(typ), v))
    return v


def string_map(doc: Mapping[str, Any], field: str, where: str, sep: str = ": ") -> Dict[str, str]:
    """An object of strings (labels, selectors); {} when absent or null."""
    v = doc.get(field)
    if v is None:
        return {}
    if not isinstance(v, dict) or not all(
        isinstance(k, str) and isinstance(x, str) for k, x in v.items()
    ):
        raise ContractError("%s%s%s: expected an object of strings" % (where, sep, field))
    return dict(v)


def one_of(v: Any, allowed: Tuple[str, ...], where: str) -> str:
    """One of a few words (a type, a protocol)."""
    if v not in allowed:
        raise ContractError("%s: expected one of %s, got %r" % (where, ", ".join(allowed), v))
    return v


def above_zero(v: Any, where: str) -> float:
    """A finite number more than 0 (a grace period, an interval)."""
    if not _is(v, NUMBER) or not math.isfinite(v) or v <= 0:
        raise ContractError("%s: expected a number > 0, got %r" % (where, v))
    return v


def ip_address(v: Any, where: str) -> str:
    """An IPv4 or IPv6 address, as written."""
    try:
        ipaddress.ip_address(v)
    except ValueError:
        raise ContractError("%s: expected an IP address, got %r" % (where, v)) from None
    return v


def ip_network(v: Any, where: str, strict: bool = False) -> str:
    """An IPv4 or IPv6 network, as written (host bits refused when `strict`)."""
    try:
        ipaddress.ip_network(v, strict=strict)
    except ValueError:
        raise ContractError("%s: expected an IP network, got %r" % (where, v)) from None
    return v


def ipv4(v: Any, where: str) -> str:
    """An IPv4 address, in its normal spelling."""
    try:
        return str(ipaddress.IPv4Address(v))
    except ValueError:
        raise ContractError("%s: expected an IPv4 address, got %r" % (where, v)) from None


def ipv4_cidr(v: Any, where: str) -> str:
    """An IPv4 network (host bits allowed), in its normal spelling."""
    try:
        return str(ipaddress.IPv4Network(v, strict=False))
    except (ValueError, TypeError):
        raise ContractError("%s: expected an IPv4 CIDR, got %r" % (where, v)) from None


def dns_label(doc: Mapping[str, Any], field: str, where: str, sep: str = ": ") -> str:
    v = string(doc, field, where, sep)
    if len(v) > 63 or not DNS_LABEL.match(v):
        raise ContractError(
            "%s%s%s: %r is not a DNS label (at most 63 lowercase letters, digits and '-')"
            % (where, sep, field, v)
        )
    return v


def port(v: Any, where: str, low: int = 1) -> int:
    """A TCP/UDP port number (`low` 0 where 0 means "any free port")."""
    if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= 65535:
        raise ContractError("%s: expected a port number %d-65535, got %r" % (where, low, v))
    return v


def argv(v: Any, where: str) -> Optional[Tuple[str, ...]]:
    """A command line (list of strings), or None for the image's default."""
    if v is None:
        return None
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ContractError("%s: expected a list of strings or null" % where)
    return tuple(v)


def seconds(
    doc: Mapping[str, Any], field: str, where: str, default: float, low: float, sep: str = "."
) -> float:
    """A finite number of seconds from `low` to MAX_SECONDS, kept as written (int or float)."""
    v = doc.get(field)
    if v is None:
        return default
    if (
        isinstance(v, bool)
        or not isinstance(v, (int, float))
        or not math.isfinite(v)
        or v < low
        or v > MAX_SECONDS
    ):
        raise ContractError(
            "%s%s%s: expected a number of seconds from %s to %d, got %r"
            % (where, sep, field, low, MAX_SECONDS, v)
        )
    return v


def at_least_one(
    doc: Mapping[str, Any], field: str, where: str, default: int, sep: str = "."
) -> int:
    v = doc.get(field)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ContractError("%s%s%s: expected an integer >= 1, got %r" % (where, sep, field, v))
    return v


def string_pairs(v: Any) -> Tuple[Tuple[str, str], ...]:
    """An object of strings as (key, value) pairs, in the document's order."""
    return tuple((k, x) for k, x in v.items())


NUMBER = (int, float)  # the `typ` of a number field: an integer or a float, never a bool
_TYPE_NAMES: Dict[Any, str] = {
    str: "a string",
    int: "an integer",
    bool: "true or false",
    dict: "an object",
    list: "a list",
    NUMBER: "a number",
}


def type_name(typ: Any) -> str:
    """How a message names a field's type."""
    return _TYPE_NAMES[typ]


def _is(v: Any, typ: Any) -> bool:
    """isinstance, except that a bool is no number (JSON's true is not 1)."""
    if isinstance(v, bool):
        return typ is bool
    return isinstance(v, typ)


def kind(v: Any) -> str:
    """How a message names the JSON type of `v`."""
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(
        type(v), type(v).__name__
    )
