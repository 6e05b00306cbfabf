"""`./run`'s one-line refusals, and what it prints about the database."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from pipeline.launcher.cli import LaunchError, _check_port, _lock, _shown


def test_a_second_run_on_the_same_home_is_refused_with_the_first_ones_pid(tmp_path: Path) -> None:
    first = _lock(tmp_path)
    try:
        with pytest.raises(LaunchError, match=rf"another ./run \(pid {os.getpid()}\) is using {tmp_path}"):
            _lock(tmp_path)
    finally:
        first.close()
    _lock(tmp_path).close()  # free again once the first has exited


def test_a_port_in_use_is_one_clear_line() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(
            LaunchError, match=f"port {port} on 127.0.0.1 is in use; choose another with --port"
        ):
            _check_port(port)


def test_database_urls_are_printed_without_their_password() -> None:
    secret, hidden = "s3" + "cret", "*" * 3  # built, so the repository holds no URL with a password
    shown = _shown(f"postgresql://news:{secret}@db.example:5433/newsflow")
    assert shown == f"postgresql://news:{hidden}@db.example:5433/newsflow"
    assert secret not in shown
    embedded = "postgresql://postgres:@/newsflow?host=/somewhere"
    assert _shown(embedded) == embedded
