"""YAML text that ansible-lint's yamllint accepts and a diff tool compares (deterministic)."""

from __future__ import annotations

from typing import Any

import yaml


class _Dumper(yaml.SafeDumper):
    """Indents sequences under their key (yamllint `indent-sequences`), never aliases."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump(data: Any, header: str = "") -> str:
    """`---`, an optional comment header, then block-style YAML in the data's own key order."""
    body = yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=120,
    )
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return f"---\n{comment}{body}"
