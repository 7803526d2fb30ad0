"""Fixtures of the verify checks' tests: real sockets the checks' commands connect to."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest


@pytest.fixture
def tcp_ports() -> Iterator[tuple[int, int]]:
    """(a port on 127.0.0.1 that accepts, a port there that refuses), for a connect check."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    yield server.getsockname()[1], closed_port
    server.close()
