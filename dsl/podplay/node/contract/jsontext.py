"""JSON in and out of the node's files, one way for every format.

Files are written as canonical text (sorted keys, one-space indent, trailing newline): the
same document is always the same bytes, so a writer compares text to know whether anything
changed, and a reader's sha256 names a state.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Optional, Type, TypeVar

from podplay.node.contract.errors import ContractError


def canonical_text(doc: Any) -> str:
    """The text a document is written as."""
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def decode(data: bytes, where: str) -> Any:
    """A file's bytes as JSON; ContractError naming `where` when they are not JSON."""
    try:
        return json.loads(data.decode("utf-8"))
    except RecursionError:
        raise ContractError("%s: not valid JSON (nested too deeply)" % where) from None
    except (UnicodeDecodeError, ValueError) as err:
        raise ContractError("%s: not valid JSON (%s)" % (where, first_line(err))) from None


def read_json(path: str) -> Any:
    """A JSON file's document; ContractError when it cannot be read or is not JSON."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as err:
        raise ContractError("%s: cannot read (%s)" % (path, err.strerror)) from None
    return decode(data, path)


def first_line(err: Exception) -> str:
    return str(err).splitlines()[0] if str(err) else type(err).__name__


R = TypeVar("R", bound="FileRecord")


class FileRecord:
    """A record kept in one JSON file (agent.json, store.json): `from_json` checks a decoded
    document, `load` reads the file; ContractError messages start with the file's path."""

    DEFAULT_PATH = ""  # where the file is on a node

    @classmethod
    def from_json(cls: Type[R], doc: Any, path: Optional[str] = None) -> R:
        """Check a decoded document; ContractError with a sentence naming the field."""
        return cls._read(doc, path or cls.DEFAULT_PATH)

    @classmethod
    def load(cls: Type[R], path: Optional[str] = None) -> R:
        """Read and check the file."""
        path = path or cls.DEFAULT_PATH
        return cls._read(read_json(path), path)

    @classmethod
    def _read(cls: Type[R], doc: Any, path: str) -> R:  # pragma: no cover - each defines it
        raise NotImplementedError

    def to_json(self) -> Dict[str, Any]:  # pragma: no cover - each defines it
        raise NotImplementedError
