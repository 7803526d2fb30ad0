"""Reading one manifest object: typed values, field paths, and refusals that name the line.

Every message has one form, `app.yaml:12: Deployment "web": spec.replicas -1 must be 0 or
more`: the file and line of the offending key, the resource, the field path as Kubernetes
spells it, what is wrong. A key podplay does not implement is refused (`... is not
supported`), never skipped, unless it is listed as harmless (`ignored`) or has the one value
podplay implements (`defaults`). A null value is the same as no value, as in Kubernetes.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any, NoReturn

from podplay.dsl.diagnostics import Location, ProgramError, show
from podplay.dsl.fields import check_label_key, check_label_value
from podplay.dsl.kubernetes.yamlfile import Located

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def child(path: str, key: str) -> str:
    """`spec` + `replicas` → `spec.replicas`; keys with dots or slashes are quoted."""
    if _PLAIN_KEY.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{show(key)}]"


class Subject:
    """The resource being read: the file it is in and how messages name it."""

    def __init__(self, file: str, kind: str, name: str | None = None) -> None:
        self.file = file
        self.kind = kind
        self.name = name

    def __str__(self) -> str:
        return f'{self.kind} "{self.name}"' if self.name else self.kind

    def at(self, where: Located | int | None) -> Location:
        """The location of a value's key (or of a line)."""
        if isinstance(where, Located):
            return Location(self.file, where.key_line)
        return Location(self.file, where)

    def fail(self, where: Located | int | None, path: str, message: str) -> NoReturn:
        """Refuse the manifest: one line, exit status 2."""
        text = f"{path} {message}" if path else message
        raise ProgramError.one(self.at(where), str(self), text)


class Fields:
    """One mapping of a manifest. Keys it does not know are refused when it is opened."""

    def __init__(
        self,
        subject: Subject,
        node: Located,
        path: str,
        allowed: Collection[str],
        ignored: Collection[str] = (),
        defaults: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(node.value, dict):
            subject.fail(node, path, f"{show(node.plain())} must be a mapping")
        self.subject, self.node, self.base = subject, node, path
        for key, line, problem in node.key_problems:
            subject.fail(line, child(path, key), problem)
        for key, value in node.value.items():
            if value.value is None or key in allowed or key in ignored:
                continue
            wanted = (defaults or {}).get(key, _NOTHING)
            if wanted is _NOTHING:
                subject.fail(value, child(path, key), "is not supported")
            if value.plain() != wanted:
                subject.fail(
                    value,
                    child(path, key),
                    f"{show(value.plain())} is not supported (only {show(wanted)})",
                )

    def get(self, key: str) -> Located | None:
        """The value of `key`, or None when absent or null."""
        value = self.node.value.get(key)
        return None if value is None or value.value is None else value

    def path(self, key: str) -> str:
        """The field path of `key` in this mapping."""
        return child(self.base, key)

    def required(self, key: str, why: str = "") -> Located:
        """The value of `key`; refused when missing."""
        value = self.get(key)
        if value is None:
            self.subject.fail(self.node, self.path(key), f"is required{why}")
        return value

    def string(self, key: str, default: str | None = None) -> str | None:
        """An optional string field."""
        value = self.get(key)
        return default if value is None else string(self.subject, value, self.path(key))

    def choice(self, key: str, default: str, allowed: tuple[str, ...], refusal: str) -> str:
        """An optional string field that must be one of `allowed`; `refusal` says so after
        the value given ('must be "None" or "ClientIP"')."""
        value = self.string(key, default) or default
        if value not in allowed:
            self.subject.fail(self.get(key), self.path(key), f"{show(value)} {refusal}")
        return value

    def integer(self, key: str, default: int | None = None, minimum: int | None = None) -> Any:
        """An optional integer field (at least `minimum`)."""
        value = self.get(key)
        if value is None:
            return default
        return integer(self.subject, value, self.path(key), minimum)


_NOTHING = object()


def string(subject: Subject, node: Located, path: str) -> str:
    """A string value."""
    if not isinstance(node.value, str):
        subject.fail(node, path, f"{show(node.plain())} must be a string")
    return node.value


def integer(subject: Subject, node: Located, path: str, minimum: int | None = None) -> int:
    """An integer value, at least `minimum`."""
    value = node.value
    if isinstance(value, bool) or not isinstance(value, int):
        subject.fail(node, path, f"{show(node.plain())} must be an integer")
    if minimum is not None and value < minimum:
        subject.fail(node, path, f"{value} must be {minimum} or more")
    return value


def port_number(subject: Subject, node: Located, path: str) -> int:
    """A port number, 1-65535."""
    value = integer(subject, node, path)
    if not 1 <= value <= 65535:
        subject.fail(node, path, f"{value} is outside 1-65535")
    return value


def sequence(subject: Subject, node: Located, path: str) -> list[Located]:
    """A list value."""
    if not isinstance(node.value, list):
        subject.fail(node, path, f"{show(node.plain())} must be a list")
    return node.value


def strings(subject: Subject, node: Located, path: str) -> list[str]:
    """A list of strings (a command, its arguments)."""
    return [
        string(subject, item, f"{path}[{i}]")
        for i, item in enumerate(sequence(subject, node, path))
    ]


def labels(subject: Subject, node: Located, path: str) -> dict[str, str]:
    """A mapping of label keys to label values (labels, selectors, node selectors)."""
    fields = Fields(subject, node, path, allowed=node.value if isinstance(node.value, dict) else ())
    out = {}
    for key, value in fields.node.value.items():
        where = child(path, key)
        problem = check_label_key(key)
        if problem is None and not isinstance(value.value, str):
            problem = f"value {show(value.plain())} must be a string (quote it)"
        problem = problem or check_label_value(value.value)
        if problem:
            subject.fail(value, where if problem.startswith("value") else path, problem)
        out[key] = value.value
    return out
