"""The iptables boundary turns every way the tools can fail into IptablesError."""

from __future__ import annotations

from pathlib import Path

import pytest

from podplay.node.proxy.iptables import Iptables, IptablesError


def fake_tool(tmp_path: Path, name: str, script: str) -> None:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(0o755)


def test_missing_binary(tmp_path: Path):
    ipt = Iptables(binary=str(tmp_path / "iptables"))
    with pytest.raises(IptablesError, match="cannot run"):
        ipt.restore("*nat\nCOMMIT\n")
    with pytest.raises(IptablesError):
        ipt.canary_ok()


def test_refused_restore_carries_the_tools_message(tmp_path: Path):
    fake_tool(tmp_path, "iptables-restore", "cat >/dev/null; echo 'line 3 failed' >&2; exit 1")
    with pytest.raises(IptablesError, match="line 3 failed"):
        Iptables(binary=str(tmp_path / "iptables")).restore("*nat\nCOMMIT\n")


def test_hung_tool_times_out(tmp_path: Path):
    fake_tool(tmp_path, "iptables-save", "sleep 5")
    with pytest.raises(IptablesError, match="did not finish"):
        Iptables(binary=str(tmp_path / "iptables"), timeout=0.2).save()


def test_canary_needs_its_rule_in_both_tables(tmp_path: Path):
    fake_tool(
        tmp_path,
        "iptables",
        'echo "-N PODPLAY-CANARY"; [ "$3" = nat ] || exit 0\necho "-A PODPLAY-CANARY -j RETURN"',
    )
    assert Iptables(binary=str(tmp_path / "iptables")).canary_ok() is False
    fake_tool(tmp_path, "iptables", 'echo "-N PODPLAY-CANARY"; echo "-A PODPLAY-CANARY -j RETURN"')
    assert Iptables(binary=str(tmp_path / "iptables")).canary_ok() is True
