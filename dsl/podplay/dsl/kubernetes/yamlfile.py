"""A manifest file as YAML documents whose every value knows the line it was written on.

PyYAML's composed nodes carry marks; this turns them into `Located` values once, so the
readers can name `app.yaml:12` for any key without a second YAML library. Problems that
need a resource's name to be told well (a key given twice, a key that is not a string) are
recorded on the mapping and reported by the reader that knows the resource.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from podplay.dsl.diagnostics import Location, ProgramError


@dataclass(frozen=True)
class Located:
    """A YAML value (dict of `Located`, list of `Located` or a scalar) and where it is."""

    value: Any
    line: int  # where the value starts (1-based)
    key_line: int  # where its key (or its "- " list item) is: the line messages name
    # (key, line, problem) for keys of this mapping that cannot be read as given
    key_problems: tuple[tuple[str, int, str], ...] = field(default=(), compare=False)

    def plain(self) -> Any:
        """The value as plain Python data (for messages that show it)."""
        if isinstance(self.value, dict):
            return {k: v.plain() for k, v in self.value.items()}
        if isinstance(self.value, list):
            return [v.plain() for v in self.value]
        return self.value


def read_documents(text: str, shown: str) -> list[Located]:
    """Every non-empty document of `text`; a YAML syntax error names its line."""
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = err.problem or err.context or "cannot be parsed"
        context = f" ({err.context})" if err.context and err.problem else ""
        raise ProgramError.one(
            Location(shown, line), None, f"YAML syntax error: {problem}{context}"
        ) from None
    except yaml.YAMLError as err:
        raise ProgramError.one(Location(shown), None, f"not valid YAML: {err}") from None
    out = []
    for node in nodes:
        if node is None:
            continue
        doc = _convert(node, _line(node), SafeConstructor(), shown, ())
        if doc.value is not None:
            out.append(doc)
    return out


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _convert(
    node: Node, key_line: int, ctor: SafeConstructor, shown: str, stack: tuple[int, ...]
) -> Located:
    if id(node) in stack:
        raise ProgramError.one(
            Location(shown, _line(node)), None, "an alias refers to itself (a recursive value)"
        )
    inner = (*stack, id(node))
    if isinstance(node, MappingNode):
        return _mapping(node, key_line, ctor, shown, inner)
    if isinstance(node, SequenceNode):
        items = [_convert(item, _line(item), ctor, shown, inner) for item in node.value]
        return Located(items, _line(node), key_line)
    assert isinstance(node, ScalarNode)
    try:
        value = ctor.construct_object(node)
    except ConstructorError as err:
        problem = err.problem or "cannot be read"
        raise ProgramError.one(
            Location(shown, _line(node)), None, f"YAML value error: {problem}"
        ) from None
    return Located(value, _line(node), key_line)


def _mapping(
    node: MappingNode, key_line: int, ctor: SafeConstructor, shown: str, stack: tuple[int, ...]
) -> Located:
    items: dict[str, Located] = {}
    problems: list[tuple[str, int, str]] = []
    for key_node, value_node in node.value:
        line = _line(key_node)
        key = _key(key_node, ctor)
        if not isinstance(key, str):
            shown_key = key_node.value if isinstance(key_node, ScalarNode) else "(a collection)"
            problems.append((str(shown_key), line, "is not a string key (quote it)"))
            continue
        if key in items:
            problems.append((key, line, f"is given twice (first at line {items[key].key_line})"))
            continue
        items[key] = _convert(value_node, line, ctor, shown, stack)
    return Located(items, _line(node), key_line, tuple(problems))


def _key(node: Node, ctor: SafeConstructor) -> Any:
    """A mapping key as written; `<<` (a merge key) stays a key the readers refuse."""
    if not isinstance(node, ScalarNode):
        return None
    if node.tag == "tag:yaml.org,2002:merge":
        return "<<"
    try:
        return ctor.construct_object(node)
    except ConstructorError:
        return None
