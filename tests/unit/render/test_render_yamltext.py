"""The YAML emitter writes what `yaml.safe_load` reads back, for any plain data."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from podplay.render.yamltext import dump

TRICKY = st.sampled_from(
    [
        "yes", "no", "on", "off", "true", "null", "~", "", " ", "-", "- a", "-o x", "1:20",
        "0x1f", "1e3", "1_000", "2001-12-14", ".inf", "a: b", "a:", "#x", "x #y", "&a", "*a",
        "!t", "|", ">", "%x", "@x", "`x", "'q'", '"q"', "[a]", "{a}", "a\nb", "tab\there",
        "10.244.1.0/24", "ndots:5", "podplay/web:0123abc", "ünïcode", "=", "<<", "?", ":",
        "{{ x }}", "{% raw %}", "a {# b", "!unsafe x",
    ]
)  # fmt: skip


class AnsibleLikeLoader(yaml.SafeLoader):
    """safe_load plus Ansible's `!unsafe` tag (a string Ansible never templates)."""


AnsibleLikeLoader.add_constructor(
    "!unsafe",
    lambda loader, node: loader.construct_scalar(node),  # type: ignore[arg-type]
)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), TRICKY, st.text(max_size=12),
    st.floats(allow_nan=False, allow_infinity=False),
)  # fmt: skip
DATA = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(TRICKY, st.text(max_size=8)), inner, max_size=4),
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(DATA)
def test_round_trip(data: object) -> None:
    assert yaml.safe_load(dump(data, "a header\nof two lines")) == data
    assert yaml.load(dump(data, "a header", literal=True), AnsibleLikeLoader) == data


def test_strings_ansible_would_template_are_tagged_unsafe() -> None:
    data = {"env": {"A": "{{ lookup('pipe', 'id') }}", "B": "plain"}, "cmd": ["{% x"]}
    text = dump(data, literal=True)
    assert "A: !unsafe \"{{ lookup('pipe', 'id') }}\"" in text
    assert "B: plain" in text and '- !unsafe "{% x"' in text
    assert "!unsafe" not in dump(data)  # playbooks: expressions are meant to be templated


def test_sequences_are_indented_under_their_key() -> None:
    assert (
        dump({"a": [{"b": 1, "c": [2]}], "d": {}})
        == "---\na:\n  - b: 1\n    c:\n      - 2\nd: {}\n"
    )
