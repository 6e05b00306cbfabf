"""The `newsflow` command as a user runs it: subprocesses, real database, real HTTP."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import psycopg2

from pipeline import db
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


def _without_db_env() -> dict[str, str]:
    """The environment with no database or home chosen, so the CLI picks its defaults."""
    return {k: v for k, v in os.environ.items() if k not in ("NEWSFLOW_DATABASE_URL", "NEWSFLOW_HOME")}


def test_the_same_embedded_database_is_found_from_any_directory() -> None:
    """A checkout's commands all use its .newsflow, wherever they are typed (no NEWSFLOW_HOME)."""
    # A short temporary path: the server's Unix socket lives under it and socket paths are short.
    with tempfile.TemporaryDirectory(prefix="nf") as tmp:
        checkout = Path(tmp) / "checkout"
        shutil.copytree(REPO / "pipeline", checkout / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
        (checkout / "pyproject.toml").write_text('[project]\nname = "newsflow"\n', encoding="utf-8")
        elsewhere = [Path(tmp) / name for name in ("a", "b", "c")]
        for folder in elsewhere:
            folder.mkdir()
        env = {**_without_db_env(), "PYTHONPATH": str(checkout)}

        def newsflow(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "pipeline.cli", *args],
                capture_output=True, text=True, timeout=300, cwd=cwd, env=env,
            )  # fmt: skip

        try:
            loaded = newsflow(elsewhere[0], "import-archive", str(FIXTURES / "hexo_posts"))
            assert loaded.returncode == 0, loaded.stderr
            assert "posts=20" in loaded.stdout
            # not a terminal: plain progress lines, no carriage-return redraws
            assert "import: 100% 20/20" in loaded.stderr and "\r" not in loaded.stderr
            found = newsflow(elsewhere[1], "search", "十四五", "--json")
            assert found.returncode == 0, found.stderr
            assert any("十四五" in hit["title"] for hit in json.loads(found.stdout))
            line = f"newsflow: database postgresql://postgres:@/newsflow?host={checkout / '.newsflow' / 'pgdata'}"
            assert loaded.stderr.startswith(line + "\n") and found.stderr == line + "\n"
            stopped = newsflow(elsewhere[2], "db", "stop")
            assert stopped.returncode == 0 and stopped.stdout.startswith("stopped embedded PostgreSQL in ")
        finally:
            db.stop_embedded(checkout / ".newsflow" / "pgdata")
        assert not any((folder / ".newsflow").exists() for folder in elsewhere)


def test_no_command_prints_the_database_password(db_url: str) -> None:
    assert "postgres:@" in db_url  # the test server trusts local connections: any password is accepted
    with_password = db_url.replace("postgres:@", "postgres:s3cret@", 1)
    env = {"NEWSFLOW_DATABASE_URL": with_password}
    runs = {
        "url": _newsflow("db", "url", env=env),
        "migrate": _newsflow("db", "migrate", env=env),
        "dead-letters": _newsflow("dead-letters", env=env),
        "search": _newsflow("search", "--since", "2021-01-01", env=env),
        "reindex": _newsflow("reindex", env=env),
    }
    for name, out in runs.items():
        assert out.returncode == 0, (name, out.stderr)
        assert "s3cret" not in out.stdout + out.stderr, name
    assert runs["url"].stdout.strip() == with_password.replace("s3cret", "***")
    assert runs["dead-letters"].stderr.startswith(f"newsflow: database postgresql://postgres:{'***'}@/")
    shown = _newsflow("db", "url", "--show-password", env=env)
    assert shown.stdout.strip() == with_password


def test_search_without_a_query_is_a_usage_error(db_url: str) -> None:
    out = _newsflow("search", env={"NEWSFLOW_DATABASE_URL": db_url})
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("newsflow search: error: search needs a query")


def test_import_archive_checks_its_folder_before_starting_a_server(tmp_path: Path) -> None:
    env = {**_without_db_env(), "NEWSFLOW_HOME": str(tmp_path / "home")}
    missing = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "import-archive", str(tmp_path / "nope")],
        capture_output=True, text=True, timeout=60, cwd=REPO, env=env,
    )  # fmt: skip
    assert missing.returncode == 2 and "nope: no such folder" in missing.stderr
    assert not (tmp_path / "home").exists()  # no embedded server was started for nothing


def test_bad_settings_are_one_line_before_any_database_work(tmp_path: Path) -> None:
    env = {**_without_db_env(), "NEWSFLOW_HOME": str(tmp_path / "home"), "NEWSFLOW_ZHIBO_IDS": "abc"}
    out = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "ingest", "--since", "-2h"],
        capture_output=True, text=True, timeout=60, cwd=REPO, env=env,
    )  # fmt: skip
    assert out.returncode == 1
    assert out.stderr == "newsflow: error: NEWSFLOW_ZHIBO_IDS='abc': 'abc' is not a feed id (expected e.g. 152,153)\n"
    flag = _newsflow("ingest", "--since", "-2h", "--zhibo", "x", env={"NEWSFLOW_HOME": str(tmp_path / "home")})
    assert flag.returncode == 1 and "--zhibo='x'" in flag.stderr and "Traceback" not in flag.stderr
    assert not (tmp_path / "home").exists()


def test_ingest_since_a_relative_time(db_url: str) -> None:
    with ReplayServer() as srv:
        env = {"NEWSFLOW_DATABASE_URL": db_url, "NEWSFLOW_REPLAY_URL": srv.base_url, "NEWSFLOW_MIN_INTERVAL_PER_HOST": "0"}
        out = _newsflow("ingest", "--since", "-2h", env=env)
    assert out.returncode == 0, out.stderr
    since, until = out.stdout.removeprefix("ingest ").split(": ", 1)[0].split(" .. ")
    assert datetime.fromisoformat(until) - datetime.fromisoformat(since) == timedelta(hours=2)


def test_a_bare_until_date_includes_that_day_in_ingest_and_search(db_url: str) -> None:
    with ReplayServer() as srv:
        env = {"NEWSFLOW_DATABASE_URL": db_url, "NEWSFLOW_REPLAY_URL": srv.base_url, "NEWSFLOW_MIN_INTERVAL_PER_HOST": "0"}
        out = _newsflow("ingest", "--since", "2021-11-06T09:00Z", "--until", "2021-11-06T09:40Z", env=env)
        assert out.returncode == 0 and "loaded=4" in out.stdout, out.stderr
        late = _newsflow("ingest", "--since", "2021-11-06T23:30Z", "--until", "2021-11-06", env=env)
    assert late.returncode == 0, late.stderr
    assert late.stdout.startswith("ingest 2021-11-06T23:30:00+00:00 .. 2021-11-07T00:00:00+00:00: ")
    env = {"NEWSFLOW_DATABASE_URL": db_url}
    that_day = _newsflow("search", "--since", "2021-11-06", "--until", "2021-11-06", "--no-collapse", "--json", env=env)
    assert that_day.returncode == 0, that_day.stderr
    days = [hit["published_at"][:10] for hit in json.loads(that_day.stdout)]
    assert len(days) == 4 and set(days) == {"2021-11-06"}
    before = _newsflow("search", "--until", "2021-11-05", "--json", env=env)
    assert before.returncode == 0 and json.loads(before.stdout) == []


def test_replay_errors_go_to_stderr(tmp_path: Path) -> None:
    out = _newsflow("replay", "serve", "--data", str(tmp_path))
    assert out.returncode == 2 and out.stdout == ""
    assert "has no manifest.json" in out.stderr


def test_up_goes_to_the_launcher_after_global_flags() -> None:
    out = _newsflow("-v", "up", "--help")
    assert out.returncode == 0, out.stderr
    assert "--offline" in out.stdout and "--keep-db" in out.stdout


def test_db_psql_passes_its_arguments_to_psql(db_url: str) -> None:
    out = _newsflow("db", "psql", "-At", "-c", "SELECT count(*) FROM schema_migrations", env={"NEWSFLOW_DATABASE_URL": db_url})
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip()) >= 4
