"""Field readers of the pod manifest: each returns the value or raises ContractError with a
message that names the file and the field path ("default_web-1.json: containers[0].image:
missing ..."), the words the agent reports as a Failed pod's message.

`where` is the file (or input) plus the path so far; `sep` joins it to the field: ": " at
the top of the document, "." below it.
"""

from __future__ import annotations

import math
import re
from typing import Any, Dict, Mapping, Optional, Tuple

from podplay.node.contract.errors import ContractError

MAX_SECONDS = 2**31 - 1  # seconds fields are int32, as in the Kubernetes API (and finite)

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


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


def optional(doc: Mapping[str, Any], field: str, where: str, typ: type, sep: str = ": ") -> Any:
    """A value of type `typ`, or None when the field is absent or null."""
    v = doc.get(field)
    if v is None:
        return None
    if not isinstance(v, typ) or (typ is int and isinstance(v, bool)):
        raise ContractError(
            "%s%s%s: expected %s, got %r" % (where, sep, field, _TYPE_NAMES[typ], v)
        )
    return v


def dns_label(doc: Mapping[str, Any], field: str, where: str, sep: str = ": ") -> str:
    v = string(doc, field, where, sep)
    if len(v) > 63 or not DNS_LABEL.match(v):
        raise ContractError(
            "%s%s%s: %r is not a DNS label (at most 63 lowercase letters, digits and '-')"
            % (where, sep, field, v)
        )
    return v


def port(v: Any, where: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 65535:
        raise ContractError("%s: expected a port number 1-65535, got %r" % (where, v))
    return v


def argv(v: Any, where: str) -> Optional[Tuple[str, ...]]:
    """A command line (list of strings), or None for the image's default."""
    if v is None:
        return None
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ContractError("%s: expected a list of strings or null" % where)
    return tuple(v)


def seconds(doc: Mapping[str, Any], field: str, where: str, default: float, low: float) -> float:
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
            "%s.%s: expected a number of seconds from %s to %d, got %r"
            % (where, field, low, MAX_SECONDS, v)
        )
    return v


def at_least_one(doc: Mapping[str, Any], field: str, where: str, default: int) -> int:
    v = doc.get(field)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ContractError("%s.%s: expected an integer >= 1, got %r" % (where, field, v))
    return v


def string_pairs(v: Any) -> Tuple[Tuple[str, str], ...]:
    """An object of strings as (key, value) pairs, in the document's order."""
    return tuple((k, x) for k, x in v.items())


_TYPE_NAMES: Dict[type, str] = {str: "a string", int: "an integer", dict: "an object"}


def kind(v: Any) -> str:
    """How a message names the JSON type of `v`."""
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(
        type(v), type(v).__name__
    )
