"""The podplay-vs-Swarm benchmark without clusters: its client loop counts what fails at a
steady rate, and its table says both sides' figures, ratios and failed requests."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from types import ModuleType

import pytest
from bench_modules import load_bench


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench("bench_vs_swarm")


@pytest.fixture
def server() -> Iterator[str]:
    class Ok(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


def test_the_client_loop_counts_failed_requests_at_its_rate(bench: ModuleType, server: str) -> None:
    closed = "http://127.0.0.1:9/"  # the discard port: nothing listens there
    result = bench.rolled(lambda: None, [server, closed])
    assert result.sent >= 60  # two seconds at 60 a second, give or take a few
    assert result.failed == result.sent // 2 or result.failed == (result.sent + 1) // 2
    assert "127.0.0.1:9" in result.first_failure
    assert 40 <= result.rate <= 70
    assert bench.serving([server]) and not bench.serving([server, closed])


def test_the_table_has_both_sides_the_ratios_and_the_failures(bench: ModuleType) -> None:
    roll = bench.Roll
    text = bench.report(
        {"podplay": [4.0, 5.0, 6.0], "swarm": [8.0, 10.0, 12.0]},
        {"podplay": [roll(9.0, 600, 0, 61.0)] * 3,
         "swarm": [roll(11.0, 700, 3, 60.5, "http://x:8080/: refused")] * 3},
        ["deploy: 1 run(s): site.yml 3.0 s"],
        [("at start", (1.0, 2.0, 3.0))],
    )  # fmt: skip
    lines = text.splitlines()
    assert any(line.startswith("deploy ratio podplay/Swarm") and " 0.50 " in line for line in lines)
    rollout = next(line for line in lines if line.startswith("rollout ratio podplay/Swarm"))
    assert " 0.82 " in rollout
    assert "failed requests per round 0/0/0 (of 1800, >= 61 req/s)" in text
    assert "failed requests per round 3/3/3 (of 2100, >= 60 req/s)" in text
    assert "first failed request (swarm): http://x:8080/: refused" in text
    assert "load average at start: 1.00 2.00 3.00" in text and "cores: " in text
