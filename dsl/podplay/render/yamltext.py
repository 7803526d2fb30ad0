"""YAML text that ansible-lint accepts and a diff tool compares, written fast.

A small block-style emitter for the plain data the renderer produces (dicts, lists, strings,
numbers, booleans, None). PyYAML's pure-Python emitter took ~8 s for a 5,000-pod cluster,
and libyaml's indents sequences in a way ansible-lint rejects. A string is written bare only
when YAML would read it back as the same string; otherwise as a JSON string, which is a
valid YAML double-quoted scalar. Round-trip is tested against `yaml.safe_load`.

Ansible templates every string it reads from vars files, so a value holding Jinja
delimiters (an env value like "{{ x }}", a shell command with "{#") would be evaluated on
the controller or break the converge: `dump(..., literal=True)` (variables files: the user's
data) writes such strings with Ansible's `!unsafe` tag, which keeps them literal. Playbooks
are dumped without it: their expressions are meant to be templated.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from yaml import ScalarNode
from yaml.resolver import Resolver

_PLAIN = re.compile(r"[A-Za-z0-9_/.][A-Za-z0-9_./@=+:-]*")
_STR_TAG = "tag:yaml.org,2002:str"
# characters YAML forbids or reads as line breaks inside a double-quoted scalar
_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]")
_resolver = Resolver()
_JINJA = ("{{", "{%", "{#")
UNSAFE_TAG = "!unsafe"


class Template(str):
    """A Jinja expression the renderer writes into a playbook whose data is dumped
    `literal` (a rollout's stages hold the user's manifests): written as is, never `!unsafe`."""


@lru_cache(maxsize=65536)
def _string(text: str) -> str:
    if (
        _PLAIN.fullmatch(text)
        and not text.endswith(":")
        and _resolver.resolve(ScalarNode, text, (True, False)) == _STR_TAG
    ):
        return text
    return _UNSAFE.sub(_escape, json.dumps(text, ensure_ascii=False))


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _text(value: str, literal: bool) -> str:
    if literal and "{" in value and any(mark in value for mark in _JINJA):  # "{" first: fast
        return f"{UNSAFE_TAG} {_UNSAFE.sub(_escape, json.dumps(value, ensure_ascii=False))}"
    return _string(value)


def _scalar(value: Any, literal: bool = False) -> str:
    if type(value) is str:  # by far the most common value: tested first
        return _text(value, literal)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):  # YAML 1.1 floats need a "." (1e+20 would read as a string)
        text = repr(value)
        if "e" in text and "." not in text:
            mantissa, _, exponent = text.partition("e")
            text = f"{mantissa}.0e{exponent}"
        return text
    if isinstance(value, str):  # a Template is an expression to template: never `!unsafe`
        return _string(value) if isinstance(value, Template) else _text(value, literal)
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list | tuple):
        return "[]"
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


_NESTED = (dict, list, tuple)


def _block(value: Any, indent: int, out: list[str], literal: bool) -> None:
    pad = " " * indent
    append = out.append
    if isinstance(value, dict):
        for key, item in value.items():
            name = _string(key if type(key) is str else str(key))
            if item and isinstance(item, _NESTED):
                append(f"{pad}{name}:")
                _block(item, indent + 2, out, literal)
            else:
                append(f"{pad}{name}: {_scalar(item, literal)}")
        return
    for item in value:
        if item and isinstance(item, _NESTED):
            start = len(out)
            _block(item, indent + 2, out, literal)
            out[start] = f"{pad}- {out[start][indent + 2 :]}"
        else:
            append(f"{pad}- {_scalar(item, literal)}")


def dump(data: Any, header: str = "", *, literal: bool = False) -> str:
    """`---`, an optional comment header, then block-style YAML in the data's own key order.

    `literal`: strings that hold Jinja delimiters are tagged `!unsafe` (Ansible leaves them
    as written); for variables files, never for playbooks."""
    lines = ["---"]
    lines += [f"# {line}".rstrip() for line in header.splitlines()]
    if isinstance(data, dict | list | tuple) and data:
        _block(data, 0, lines, literal)
    else:
        lines.append(_scalar(data, literal))
    return "\n".join(lines) + "\n"
