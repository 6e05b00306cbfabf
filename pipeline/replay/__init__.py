"""Offline stand-in for Sina: a loopback HTTP server replaying a recorded data set, with fault injection.

from pipeline.replay import ReplayServer
with ReplayServer() as srv:
    srv.set_fault("/api/roll/get", "503", count=2)
    ...  # point Settings.roll_base / zhibo_base (or NEWSFLOW_REPLAY_URL) at srv.base_url
"""

from __future__ import annotations

from pipeline.replay.faults import DEFAULT_MIX_KINDS, FAULT_KINDS
from pipeline.replay.server import (
    ReplayServer,
    add_cli_arguments,
    default_data_dir,
    manifest,
    run_cli,
    serve,
)

__all__ = [
    "DEFAULT_MIX_KINDS",
    "FAULT_KINDS",
    "ReplayServer",
    "add_cli_arguments",
    "default_data_dir",
    "manifest",
    "run_cli",
    "serve",
]
