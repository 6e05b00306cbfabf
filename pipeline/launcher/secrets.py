"""Secrets kept in owner-only (0600) JSON files under .newsflow/, made on first start."""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

ADMIN_USER = "admin"


def write_private_json(path: Path, data: Mapping[str, str]) -> None:
    """Write `data` to `path`, readable by its owner only (created 0600, never world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(dict(data), fh)


def load_or_create_json(path: Path, make: Mapping[str, str]) -> dict[str, str]:
    """Read a 0600 JSON file of secrets, adding any missing key from `make` (first start only)."""
    data: dict[str, str] = {}
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
    missing = {k: v for k, v in make.items() if k not in data}
    if missing:
        data.update(missing)
        write_private_json(path, data)
    return data


def fernet_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def airflow_keys(path: Path) -> dict[str, str]:
    """The Fernet key and the signing secrets of one Airflow deployment."""
    return load_or_create_json(
        path,
        {
            "fernet_key": fernet_key(),
            "jwt_secret": secrets.token_urlsafe(32),
            "api_secret_key": secrets.token_urlsafe(32),
        },
    )


def admin_password(passwords_file: Path) -> str:
    """The admin login, in the format SimpleAuthManager reads ({"user": "password"})."""
    return load_or_create_json(passwords_file, {ADMIN_USER: secrets.token_urlsafe(12)})[ADMIN_USER]
