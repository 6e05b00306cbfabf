"""Settings parsed strictly, the database URL shown without its password, and where local state lives."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.config import Settings, project_home, redact_url
from pipeline.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent.parent


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("NEWSFLOW_ZHIBO_IDS", "abc"),
        ("NEWSFLOW_ZHIBO_IDS", "152,x"),
        ("NEWSFLOW_ROLL_PAIRS", "155-1686"),
        ("NEWSFLOW_ROLL_PAIRS", "155:1686,155:"),
        ("NEWSFLOW_MAX_PAGES", "ten"),
        ("NEWSFLOW_MAX_PAGES", "0"),
        ("NEWSFLOW_PAGE_SIZE", "2.5"),
        ("NEWSFLOW_RETRIES", "-1"),
        ("NEWSFLOW_CONNECT_TIMEOUT", "0"),
        ("NEWSFLOW_READ_TIMEOUT", "nan"),
        ("NEWSFLOW_BACKOFF", "fast"),
        ("NEWSFLOW_MIN_INTERVAL_PER_HOST", "-0.5"),
        ("NEWSFLOW_RESPECT_ROBOTS", "maybe"),
        ("NEWSFLOW_REPLAY_URL", "127.0.0.1:8765"),
        ("NEWSFLOW_ROLL_BASE", "ftp://feed.example"),
        ("NEWSFLOW_RSS_URLS", "not a url"),
    ],
)
def test_a_bad_setting_is_one_error_naming_the_variable_and_the_value(var: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({var: value})
    message = str(caught.value)
    assert var in message and repr(value) in message and "\n" not in message


def test_a_bad_url_in_a_list_is_named() -> None:
    with pytest.raises(ConfigError, match=r"NEWSFLOW_RSS_URLS='ftp://b\.example/rss' is not an http"):
        Settings.from_env({"NEWSFLOW_RSS_URLS": "https://a.example/rss,ftp://b.example/rss"})


def test_good_settings_are_read() -> None:
    s = Settings.from_env(
        {
            "NEWSFLOW_ZHIBO_IDS": " 152, 153 ",
            "NEWSFLOW_ROLL_PAIRS": "155:1686, 155:1687",
            "NEWSFLOW_MAX_PAGES": "3",
            "NEWSFLOW_BACKOFF": "0",
            "NEWSFLOW_RESPECT_ROBOTS": "off",
            "NEWSFLOW_REPLAY_URL": "http://127.0.0.1:8765/",
            "NEWSFLOW_RSS_URLS": "https://a.example/rss/,https://b.example/feed",
        }
    )
    assert s.zhibo_ids == (152, 153) and s.roll_pairs == ((155, 1686), (155, 1687))
    assert s.max_pages == 3 and s.backoff == 0.0 and s.respect_robots is False
    assert s.roll_base == s.zhibo_base == "http://127.0.0.1:8765"
    assert s.rss_urls == ("https://a.example/rss/", "https://b.example/feed")
    assert Settings.from_env({"NEWSFLOW_ZHIBO_IDS": ""}).zhibo_ids == ()  # set but empty: no 7x24 feed
    assert Settings.from_env({}) == Settings()


PW = "s3cret"  # a made-up password; the URLs are built so no literal one is in the repository
MASK = "***"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"postgresql://news:{PW}@db.example:5432/news", f"postgresql://news:{MASK}@db.example:5432/news"),
        (f"postgresql://news:{PW}%40x@db.example/news?sslmode=require", f"postgresql://news:{MASK}@db.example/news?sslmode=require"),
        (f"postgresql://news@db.example/news?password={PW}&sslmode=require", f"postgresql://news@db.example/news?password={MASK}&sslmode=require"),
        ("postgresql://postgres:@/newsflow?host=/srv/pgdata", "postgresql://postgres:@/newsflow?host=/srv/pgdata"),
        ("postgresql://db.example/news", "postgresql://db.example/news"),
    ],
)  # fmt: skip
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def _project_home_in(python_path: Path, cwd: Path, env: dict[str, str]) -> Path:
    """project_home() as a fresh interpreter that imports `pipeline` from `python_path` sees it."""
    clean = {k: v for k, v in os.environ.items() if k not in ("NEWSFLOW_HOME", "XDG_DATA_HOME")}
    out = subprocess.run(
        [sys.executable, "-c", "from pipeline.config import project_home; print(project_home())"],
        capture_output=True, text=True, check=True, cwd=cwd,
        env={**clean, "PYTHONPATH": str(python_path), **env},
    )  # fmt: skip
    return Path(out.stdout.strip())


def test_project_home_is_the_checkout_from_any_directory(tmp_path: Path) -> None:
    assert _project_home_in(REPO, tmp_path, {}) == REPO / ".newsflow"
    assert _project_home_in(REPO, REPO / "tests", {}) == REPO / ".newsflow"
    assert _project_home_in(REPO, tmp_path, {"NEWSFLOW_HOME": str(tmp_path / "h")}) == tmp_path / "h"


def test_an_installed_package_keeps_its_state_in_the_xdg_data_folder(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"  # the package without a checkout around it, as a wheel installs it
    shutil.copytree(REPO / "pipeline", site / "pipeline", ignore=shutil.ignore_patterns("__pycache__", "replay"))
    data = tmp_path / "xdg"
    assert _project_home_in(site, tmp_path, {"XDG_DATA_HOME": str(data)}) == data / "newsflow"
    assert _project_home_in(site, tmp_path, {"HOME": str(tmp_path)}) == tmp_path / ".local/share/newsflow"


def test_project_home_here_agrees() -> None:
    if not os.environ.get("NEWSFLOW_HOME"):
        assert project_home() == REPO / ".newsflow"
