"""Field types shared by the DSL objects, each with the message that says what is allowed.

Names follow Kubernetes (DNS-1123 labels, DNS-1035 for services because they become DNS
names), ports are 1-65535, quantities are Kubernetes quantities ("250m", "64Mi").
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, StrictInt, StrictStr

from podplay.dsl.base import bad
from podplay.dsl.diagnostics import show
from podplay.node.contract import defaults

NODE_PORT_RANGE = defaults.NODE_PORT_RANGE

_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_IMAGE_REF = re.compile(
    r"([a-z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*"
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?"
)

_NAME_RULE = 'use lowercase letters, digits and "-", start and end with a letter or digit'


def is_dns_label(value: str) -> bool:
    """A DNS-1123 label: what Kubernetes allows for most names."""
    return len(value) <= 63 and _LABEL.fullmatch(value) is not None


def _dns_label(value: str) -> str:
    if not is_dns_label(value):
        raise bad(f"{show(value)} is not a valid name: {_NAME_RULE}, at most 63 characters")
    return value


def _dns1035(value: str) -> str:
    if len(value) > 63 or _DNS1035.fullmatch(value) is None:
        raise bad(
            f'{show(value)} is not a valid service name: use lowercase letters, digits and "-", '
            "start with a letter and end with a letter or digit, at most 63 characters "
            "(it becomes a DNS name)"
        )
    return value


def is_dns_subdomain(value: str) -> bool:
    """A DNS-1123 subdomain: `billing.example.test`."""
    return len(value) <= 253 and _SUBDOMAIN.fullmatch(value) is not None


def _subdomain(value: str) -> str:
    if not is_dns_subdomain(value):
        raise bad(f"{show(value)} is not a valid DNS name like billing.example.test")
    return value


def _port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise bad(f"{value} is outside 1-65535")
    return value


def _non_negative(value: int) -> int:
    if value < 0:
        raise bad(f"{value} must be 0 or more")
    return value


def _positive(value: int) -> int:
    if value < 1:
        raise bad(f"{value} must be 1 or more")
    return value


Name = Annotated[StrictStr, AfterValidator(_dns_label)]
ServiceName = Annotated[StrictStr, AfterValidator(_dns1035)]
DnsName = Annotated[StrictStr, AfterValidator(_subdomain)]
Port = Annotated[StrictInt, AfterValidator(_port)]
NonNegative = Annotated[StrictInt, AfterValidator(_non_negative)]
Positive = Annotated[StrictInt, AfterValidator(_positive)]


def check_label_key(key: Any) -> str | None:
    """None when `key` is a valid label key, else what is wrong with it."""
    if not isinstance(key, str):
        return f"key {show(key)} must be a string"
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or _SUBDOMAIN.fullmatch(prefix) is None):
        return f"key {show(key)} has an invalid prefix (a DNS name before the /)"
    if len(name) > 63 or _LABEL_NAME.fullmatch(name) is None:
        return (
            f"key {show(key)} is invalid: letters, digits, '-', '_' and '.', "
            "starting and ending with a letter or digit, at most 63 characters"
        )
    return None


def check_label_value(value: Any) -> str | None:
    """None when `value` is a valid label value, else what is wrong with it."""
    if not isinstance(value, str):
        return f"value {show(value)} must be a string"
    if value and (len(value) > 63 or _LABEL_NAME.fullmatch(value) is None):
        return (
            f"value {show(value)} is invalid: letters, digits, '-', '_' and '.', "
            "starting and ending with a letter or digit, at most 63 characters"
        )
    return None


def _labels(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise bad(f"{show(value)} must be a dict of label keys to values")
    for key, val in value.items():
        problem = check_label_key(key) or check_label_value(val)
        if problem:
            raise bad(f"[{show(key)}] {problem}" if isinstance(key, str) else problem)
    return dict(value)


Labels = Annotated[dict[str, str], BeforeValidator(_labels)]


def is_env_name(value: str) -> bool:
    """Environment variable names a shell can use."""
    return _ENV_NAME.fullmatch(value) is not None


def is_image_ref(value: str) -> bool:
    """`busybox`, `podplay/web:1a2b`, `registry:5000/x/y@sha256:...`."""
    return len(value) <= 255 and _IMAGE_REF.fullmatch(value) is not None


_MEMORY_SUFFIX = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}
_QUANTITY = re.compile(r"([0-9]+(?:\.[0-9]+)?)([A-Za-z]*)")


def cpu_millis(value: str | int | float) -> int:
    """Kubernetes CPU quantity ("250m", "0.5", 2) → millicores; ValueError with the rule."""
    rule = 'use cores like 0.5 or 2, or millicores like "250m"'
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(rule)
    text = str(value)
    match = _QUANTITY.fullmatch(text)
    if match is None or match.group(2) not in ("", "m"):
        raise ValueError(rule)
    number = Decimal(match.group(1))
    millis = number if match.group(2) == "m" else number * 1000
    if millis != millis.to_integral_value() or millis <= 0:
        raise ValueError(f"{rule} (at least 1m)")
    return int(millis)


def memory_bytes(value: str | int) -> int:
    """Kubernetes memory quantity ("64Mi", "1G", 1048576) → bytes; ValueError with the rule."""
    rule = 'use bytes or a quantity like "64Mi", "1Gi", "500M"'
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(rule)
    match = _QUANTITY.fullmatch(str(value))
    if match is None or match.group(2) not in _MEMORY_SUFFIX:
        raise ValueError(rule)
    try:
        amount = Decimal(match.group(1)) * _MEMORY_SUFFIX[match.group(2)]
    except InvalidOperation as err:  # pragma: no cover - the regex admits only decimals
        raise ValueError(rule) from err
    if amount != amount.to_integral_value() or amount <= 0:
        raise ValueError(f"{rule} (a whole number of bytes, more than 0)")
    return int(amount)


# A process gets its arguments and environment as C strings: a NUL would end the value early
# (the engine refuses such a container only when it starts it, on the node).
NUL_MESSAGE = "must not contain a NUL character (\\x00): a process cannot receive one"


def _argv(value: Any) -> Any:
    if value is None:
        return value
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise bad(f'{show(value)} must be a list of strings like ["sh", "-c", "echo hi"]')
    for i, arg in enumerate(value):
        if "\x00" in arg:
            raise bad(f"[{i}] {show(arg)} {NUL_MESSAGE}")
    return list(value)


Argv = Annotated[list[StrictStr] | None, BeforeValidator(_argv)]
