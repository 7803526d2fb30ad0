"""The base of every DSL object: positional arguments, strict keywords, errors for people.

A DSL object is a frozen pydantic model. Its constructor records where the user called it,
maps positional arguments to fields, rejects unknown keywords with a suggestion, and turns
pydantic's validation errors into `file:line: Kind "name": field value what-is-allowed`.
"""

from __future__ import annotations

import difflib
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError
from pydantic_core import PydanticCustomError

from podplay.dsl.diagnostics import Diagnostic, Location, ProgramError, caller_location, show


def bad(message: str) -> PydanticCustomError:
    """A validation failure whose text is ours: `raise bad('80 is outside 30000-32767')`."""
    return PydanticCustomError("podplay", "{m}", {"m": message})


def format_loc(loc: tuple[Any, ...]) -> str:
    """`("ports", 0, "node_port")` → `ports[0].node_port`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


_TYPE_MESSAGES = {
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "string_type": "must be a string",
    "bool_type": "must be True or False",
    "bool_parsing": "must be True or False",
    "list_type": "must be a list",
    "dict_type": "must be a dict",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
}


def explain(error: dict[str, Any]) -> str:
    """One pydantic error dict → the part of our message after the subject."""
    loc = format_loc(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "podplay":
        text = ctx["m"]
    elif kind == "missing":
        return f"{loc} is required"
    elif kind == "extra_forbidden":
        return f'unknown argument "{loc}"'
    elif kind in _TYPE_MESSAGES:
        text = f"{show(error['input'])} {_TYPE_MESSAGES[kind]}"
    elif kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", '"')
        text = f"{show(error['input'])} must be one of {expected}"
    elif kind in ("model_type", "model_attributes_type", "is_instance_of"):
        cls = ctx.get("class_name") or ctx.get("class") or "the right type"
        text = f"{show(error['input'])} must be a pp.{cls}"
    else:
        text = f"{show(error['input'])} is invalid: {error['msg']}"
    if not loc:
        return text
    return f"{loc}{text}" if text.startswith("[") else f"{loc} {text}"


class Spec(BaseModel):
    """Base of DSL objects: frozen, strict about keywords, located at the user's call."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        arbitrary_types_allowed=True,
        revalidate_instances="never",
    )

    _positional: ClassVar[tuple[str, ...]] = ()
    _location: Location | None = PrivateAttr(default=None)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        location = caller_location()
        kind = type(self).__name__
        if len(args) > len(self._positional):
            names = ", ".join(self._positional) or "none"
            named = dict(zip(self._positional, args, strict=False)) | kwargs
            message = (
                f"takes {len(self._positional)} positional arguments ({names}), "
                f"got {len(args)}; pass the others by keyword"
                if type(self).model_fields
                else f"takes no arguments, got {len(args)}"
            )
            raise ProgramError.one(location, self._subject(named), message)
        for name, value in zip(self._positional, args, strict=False):
            if name in kwargs:
                raise ProgramError.one(location, kind, f'"{name}" given twice')
            kwargs[name] = value
        subject = self._subject(kwargs)
        fields = type(self).model_fields
        unknown = [k for k in kwargs if k not in fields]
        if unknown:
            raise ProgramError(
                [Diagnostic(location, subject, _unknown(k, list(fields)), field=k) for k in unknown]
            )
        try:
            super().__init__(**kwargs)
        except ValidationError as err:
            diagnostics = [
                Diagnostic(location, subject, explain(e), field=format_loc(e["loc"]) or None)
                for e in err.errors()
            ]
            raise ProgramError(diagnostics) from None
        self._location = location
        self._created()

    @classmethod
    def _subject(cls, kwargs: dict[str, Any]) -> str:
        name = kwargs.get("name")
        if isinstance(name, str):
            return f'{cls.__name__} "{name}"'
        return cls.__name__

    def _created(self) -> None:
        """Hook run after a successful construction (resources register themselves here)."""

    @property
    def location(self) -> Location | None:
        """Where the user constructed this object (None when built from data, not by a call)."""
        return self._location

    def describe(self) -> str:
        """`Service "web"` or `ServicePort`: how messages name this object."""
        name = getattr(self, "name", None)
        kind = type(self).__name__
        return f'{kind} "{name}"' if isinstance(name, str) else kind


def _unknown(key: str, allowed: list[str]) -> str:
    if not allowed:
        return f'unknown argument "{key}"; it takes no arguments'
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = f'; did you mean "{close[0]}"?' if close else f"; allowed: {', '.join(allowed)}"
    return f'unknown argument "{key}"{hint}'
