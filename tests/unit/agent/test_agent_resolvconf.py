"""A pod's resolv.conf as the agent writes it into the sandbox."""

from __future__ import annotations

from types import SimpleNamespace

from podplay.node.agent.resolvconf import ResolvConf, resolv_conf_text


def dns(**kw):
    base = {"nameservers": ["10.96.0.10"], "searches": [], "options": []}
    return SimpleNamespace(**{**base, **kw})


def test_text_names_the_cluster_dns_searches_and_options():
    text = resolv_conf_text(
        dns(searches=["default.svc.cluster.local", "svc.cluster.local"], options=["ndots:5"])
    )
    assert text.splitlines()[1:] == [
        "nameserver 10.96.0.10",
        "search default.svc.cluster.local svc.cluster.local",
        "options ndots:5",
    ]


def test_written_under_the_engine_data_root_found_once(tmp_path):
    calls = []

    class Api:
        def info(self):
            calls.append("info")
            return {"DockerRootDir": str(tmp_path)}

        def inspect_container(self, cid):
            calls.append("inspect")
            return {"ResolvConfPath": None}

    for cid in ("a" * 64, "b" * 64):
        (tmp_path / "containers" / cid).mkdir(parents=True)
        (tmp_path / "containers" / cid / "resolv.conf").write_text("nameserver 127.0.0.11\n")
    writer = ResolvConf(lambda: Api())
    writer.write("a" * 64, dns())
    writer.write("b" * 64, dns())
    assert calls == ["info"]
    assert (
        "nameserver 10.96.0.10"
        in (tmp_path / "containers" / ("b" * 64) / "resolv.conf").read_text()
    )


def test_no_nameserver_leaves_the_engine_file_alone(tmp_path):
    cid = "c" * 64
    (tmp_path / "containers" / cid).mkdir(parents=True)
    conf = tmp_path / "containers" / cid / "resolv.conf"
    conf.write_text("nameserver 127.0.0.11\n")
    api = SimpleNamespace(info=lambda: {"DockerRootDir": str(tmp_path)})
    ResolvConf(lambda: api).write(cid, dns(nameservers=[]))
    assert conf.read_text() == "nameserver 127.0.0.11\n"
