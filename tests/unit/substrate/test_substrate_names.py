"""Cluster names and node counts: rejected with one sentence naming the field (exit 2)."""

from __future__ import annotations

import pytest

from podplay.errors import UserInputError
from podplay.substrate.model import validate_name, validate_node_count


@pytest.mark.parametrize("name", ["a", "dev", "dev-1", "pptest", "a" * 32, "x9"])
def test_valid_names(name):
    assert validate_name(name) == name


@pytest.mark.parametrize("name", ["", "Dev", "1dev", "-dev", "dev-", "dev_1", "a.b", "a" * 33, "ü"])
def test_invalid_names(name):
    with pytest.raises(UserInputError) as err:
        validate_name(name)
    assert err.value.exit_code == 2
    assert "cluster name" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("count", [0, -1, 101])
def test_node_count_out_of_range(count):
    with pytest.raises(UserInputError, match="--nodes"):
        validate_node_count(count)


def test_node_count_in_range():
    assert validate_node_count(1) == 1
    assert validate_node_count(100) == 100


def test_programs_follow_the_same_rules_for_local_clusters():
    """compile/preview refuse what `cluster create` would refuse halfway through `up`."""
    from podplay.dsl import cluster as dsl_cluster
    from podplay.substrate import model

    assert dsl_cluster.LOCAL_NAME_RE.pattern == model.NAME_RE.pattern
    assert dsl_cluster.LOCAL_MAX_NODES == model.MAX_NODES
