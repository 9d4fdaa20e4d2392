"""The API's edges: per-key rate limits, and the bootstrap commands of ``locker cloud``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from cloud.core.config import Settings
from cloud.main import create_app
from cloud.services.auth import create_admin
from tests.cloud.conftest import bearer, secret
from tests.databases import migrated


def test_each_key_is_rate_limited_on_its_own(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cloud.db'}"
    migrated(url)
    settings = Settings(database_url=url, secret_key=secret(), rate_per_minute=3)
    app = create_app(settings)
    first = bearer(create_admin(app.state.engine, settings.secret_key, "one"))
    second = bearer(create_admin(app.state.engine, settings.secret_key, "two"))
    with TestClient(app) as client:
        codes = [
            client.get("/api/v1/sites/none/health", headers=first).status_code for _ in range(4)
        ]
        assert codes == [404, 404, 404, 429]
        limited = client.get("/api/v1/sites/none/health", headers=first)
        assert int(limited.headers["Retry-After"]) >= 1
        assert client.get("/api/v1/sites/none/health", headers=second).status_code == 404


def test_a_rotated_key_keeps_its_request_budget(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cloud.db'}"
    migrated(url)
    settings = Settings(database_url=url, secret_key=secret(), rate_per_minute=3)
    app = create_app(settings)
    old = bearer(create_admin(app.state.engine, settings.secret_key, "one"))
    with TestClient(app) as client:
        (me,) = client.get("/api/v1/keys", headers=old).json()
        rotated = client.post(f"/api/v1/keys/{me['id']}/rotate", headers=old, json={})
        assert rotated.status_code == 201
        new = bearer(rotated.json()["api_key"])
        assert client.get("/api/v1/keys", headers=new).status_code == 200
        assert client.get("/api/v1/keys", headers=new).status_code == 429
    app.state.engine.dispose()


def _locker(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "locker_cli.main", "cloud", *args],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_create_admin_needs_a_real_secret_and_prints_a_key_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cloud.db'}"
    refused = _locker(
        "create-admin",
        env={"LOCKER_CLOUD_DATABASE_URL": url, "LOCKER_CLOUD_SECRET_KEY": "changethis"},
    )
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: LOCKER_CLOUD_SECRET_KEY:")
    env = {"LOCKER_CLOUD_DATABASE_URL": url, "LOCKER_CLOUD_SECRET_KEY": secret()}
    made = _locker("create-admin", env=env)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("lk_")
    assert key not in (tmp_path / "cloud.db").read_bytes().decode("latin-1")  # stored hashed only
    assert _locker("migrate", env=env).stdout.strip() == "schema up to date"
