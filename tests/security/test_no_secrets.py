"""No secret and no default password is committed: every tracked text file is scanned."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Built from parts, so this file does not match itself.
DEFAULT_LOGINS = [":".join((u, u)) for u in ("admin", "airflow", "postgres", "root", "newsflow")]
SECRET_KEY = re.compile(
    r"""(?i)(?P<key>[\w.-]*(?:pass"""
    + r"""word|passwd|secret(?:_key)?|api[_-]?key|token))["']?\s*[:=]\s*(?P<value>\S.*)"""
)
URL_PASSWORD = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@]+:(?P<pw>[^\s@/]+)@")
PRIVATE_KEY = re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH )?PRIVATE " + r"KEY-----")
# A value that is not a literal: an environment/shell reference, a placeholder, or code.
NOT_LITERAL = re.compile(r"""^(?:\$|<|\.\.\.|…|[A-Za-z_][\w.]*\s*[(\[]|[A-Za-z_][\w.]*\s*,?$|f?["']?\{)""")
# SimpleAuthManager's users setting is `username:role`, not a login (the password is generated).
USERS_ROLE_LINE = re.compile(r"SIMPLE_AUTH_MANAGER_USERS")


def _tracked_text_files() -> list[tuple[str, str]]:
    names = (
        subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    out = []
    for name in names:
        path = REPO / name
        if not name or not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue
        out.append((name, data.decode("utf-8", errors="replace")))
    return out


def find_secrets(name: str, text: str) -> list[str]:
    found = []
    for lineno, line in enumerate(text.splitlines(), 1):
        where = f"{name}:{lineno}: {line.strip()[:120]}"
        if PRIVATE_KEY.search(line):
            found.append(where)
        if not USERS_ROLE_LINE.search(line) and any(
            re.search(r"(?<![\w-])" + re.escape(login) + r"(?![\w-])", line) for login in DEFAULT_LOGINS
        ):
            found.append(where)
        for m in URL_PASSWORD.finditer(line):
            if not m.group("pw").startswith(("$", "<", "{", "…", "...")):
                found.append(where)
        for m in SECRET_KEY.finditer(line):
            value = m.group("value").strip().rstrip(",;")
            literal = re.match(r"""^["']([^"']*)["']$""", value) or re.match(r"""^([^\s"'#]+)$""", value)
            if not literal or NOT_LITERAL.match(value):
                continue
            secret = literal.group(1)
            if m.group("key").lower().endswith(("_file", "_path")) or "/" in secret:
                continue
            # dummy values of tests and docs are fine; an empty value is "not set"
            if not secret or "test" in secret.lower() or secret.startswith(("<", "$", "…", "...")):
                continue
            found.append(where)
    return found


def test_no_secret_or_default_password_in_the_repository() -> None:
    files = _tracked_text_files()
    assert len(files) > 50
    hits = [hit for name, text in files for hit in find_secrets(name, text)]
    assert hits == []


@pytest.mark.parametrize(
    "line",
    [
        'DATABASE_URL = "postgresql://newsflow:' + 'hunter22@db:5432/newsflow"',  # split: this file is scanned too
        "  POSTGRES_PASSWORD: s3cr3t-pw",
        'password = "correct horse"',
        'AIRFLOW__API__SECRET_KEY: "0123456789abcdef"',
        "login " + DEFAULT_LOGINS[1],
        "-----BEGIN OPENSSH PRIVATE " + "KEY-----",
    ],
)
def test_the_scan_catches(line: str) -> None:
    assert find_secrets("x", line)


@pytest.mark.parametrize(
    "line",
    [
        "  POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}",
        'password = os.environ.get("NEWSFLOW_ADMIN_PASSWORD", "")',
        '"jwt_secret": secrets.token_urlsafe(32),',
        "postgresql://postgres:@/postgres?host=/somewhere",
    ],
)
def test_the_scan_lets_references_through(line: str) -> None:
    assert find_secrets("x", line) == []
