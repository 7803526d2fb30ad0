"""`proxy --cleanup` (what `podplay destroy --keep-cluster` runs): every chain the proxy owns
and every jump into them goes, in one restore; the network setup's and Docker's rules stay."""

from __future__ import annotations

import json

import pytest
from fake_iptables import FakeIptables
from proxy_cases import FOREIGN_SAVE, all_ready, local, state

from podplay.node.proxy import cli
from podplay.node.proxy.rules import render
from podplay.node.proxy.ruleset import is_own_chain, parse_save


class KernelTool:
    """The `Iptables` surface cleanup uses, over the fake kernel."""

    def __init__(self, kernel: FakeIptables) -> None:
        self.kernel = kernel

    def save(self) -> str:
        return self.kernel.save()

    def restore(self, text: str) -> None:
        self.kernel.restore(text)


def synced_kernel() -> FakeIptables:
    kernel = FakeIptables()
    kernel.restore(FOREIGN_SAVE, noflush=False)
    st = state()
    kernel.restore(render(st, all_ready(st), local("node1"), parse_save(kernel.save())))
    return kernel


def test_cleanup_leaves_exactly_the_foreign_rules(capsys: pytest.CaptureFixture[str]) -> None:
    kernel = synced_kernel()
    assert any(is_own_chain(c) for t in ("filter", "nat") for c in kernel.chains(t))
    assert cli._cleanup(KernelTool(kernel)) == 0
    assert json.loads(capsys.readouterr().out) == {"changed": True}
    foreign = FakeIptables()
    foreign.restore(FOREIGN_SAVE, noflush=False)
    assert kernel.save() == foreign.save()  # PODPLAY-NET-* and Docker's rules untouched
    assert kernel.dangling_jumps() == []


def test_cleanup_twice_changes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    kernel = synced_kernel()
    cli._cleanup(KernelTool(kernel))
    capsys.readouterr()
    restores = len(kernel.restores)
    assert cli._cleanup(KernelTool(kernel)) == 0
    assert json.loads(capsys.readouterr().out) == {"changed": False}
    assert len(kernel.restores) == restores
