"""The `newsflow` command as a user runs it: subprocesses, real database, real HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psycopg2

from pipeline.replay import ReplayServer

from ..conftest import FIXTURES, REPO

SEED = next((FIXTURES / "hexo_posts").glob("_十四五_*.md"))


def _newsflow(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        capture_output=True, text=True, timeout=300, cwd=REPO, env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_parse_prints_the_seed_as_json_with_tags() -> None:
    out = _newsflow("parse", str(SEED), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["title"] == "“十四五”信息化和工业化深度融合发展规划印发，点名这些产业"
    assert data["published_at"] == "2021-11-30T03:05:31Z"
    assert data["editor"] == "张亚楠"
    assert {"code": "sz300024", "name": "机器人"} in data["stocks"]
    assert any(t["kind"] == "issuer" and t["value"] == "工业和信息化部" and t["evidence"] for t in data["tags"])


def test_errors_are_one_line_and_non_zero(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "page.html"
    bad.write_bytes(b"<html><body><p>nothing a parser knows</p></body></html>")
    out = _newsflow("parse", str(bad))
    assert out.returncode == 1
    assert out.stderr.startswith("newsflow: error:") and "Traceback" not in out.stderr
    missing = _newsflow("parse", str(tmp_path / "nope.md"))
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    usage = _newsflow("ingest", "--since", "yesterday-ish")
    assert usage.returncode == 2 and "not a time" in usage.stderr


def test_ingest_and_import_archive_commands(db_url: str) -> None:
    with ReplayServer() as srv:
        env = {"NEWSFLOW_DATABASE_URL": db_url, "NEWSFLOW_REPLAY_URL": srv.base_url, "NEWSFLOW_MIN_INTERVAL_PER_HOST": "0"}
        out = _newsflow("ingest", "--since", "2021-11-06T09:00Z", "--until", "2021-11-06T09:40Z", env=env)
        assert out.returncode == 0, out.stderr
        assert "loaded=4" in out.stdout and "failed=0" in out.stdout
    out = _newsflow("import-archive", str(FIXTURES / "hexo_posts"), env={"NEWSFLOW_DATABASE_URL": db_url})
    assert out.returncode == 0, out.stderr
    assert "posts=20" in out.stdout and "failed=0" in out.stdout
    conn = psycopg2.connect(db_url)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT kind, status FROM ingest_runs ORDER BY run_id")
        assert cur.fetchall() == [("ingest", "success"), ("archive", "success")]
    conn.close()
