"""Fixtures for the run-store and job tests: small synthetic interaction files, and a store per test on
each backend the run store supports: SQLite (always) and PostgreSQL (a throwaway local server; skipped when
no PostgreSQL binaries or no psycopg are installed)."""

from __future__ import annotations

import glob
import os
import secrets
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from recsys_core.runs import jobs as jobs_module
from recsys_core.runs import store as store_module
from recsys_core.runs.store import RunStore


def write_split(folder: Path, n_users: int = 40, n_items: int = 30, per_user: int = 10, seed: int = 0) -> dict:
    """train.csv / test.csv (last 3 per user) / all.csv with ratings 1-5 and timestamps."""
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(n_users), per_user)
    items = np.concatenate([rng.choice(n_items, size=per_user, replace=False) for _ in range(n_users)])
    frame = pd.DataFrame(
        {
            "user": users,
            "item": items,
            "rating": rng.integers(1, 6, size=len(users)).astype(float),
            "timestamp": 1_600_000_000 + 100 * np.tile(np.arange(per_user), n_users),
        }
    )
    test = frame.groupby("user").cumcount() >= per_user - 3
    paths = {name: folder / f"{name}.csv" for name in ("all", "train", "test")}
    frame.to_csv(paths["all"], index=False)
    frame[~test].to_csv(paths["train"], index=False)
    frame[test].to_csv(paths["test"], index=False)
    return paths


@pytest.fixture
def split_files(tmp_path: Path) -> dict:
    return write_split(tmp_path)


# ---------------------------------------------------------------------- PostgreSQL
class PostgresServer:
    """A throwaway PostgreSQL cluster in a temporary folder, listening only on a unix socket in that folder
    (so no port is taken and leftover or parallel clusters never clash). Trust authentication, no fsync."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.folder = Path(tempfile.mkdtemp(prefix="reclab-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.user = "postgres"
        self._as: list[str] = []
        if os.name == "posix" and os.geteuid() == 0:  # postgres refuses to run as root
            account = _unprivileged_account()
            if account is None:
                self.cleanup()
                pytest.skip("running as root and no 'postgres' or 'nobody' account to run PostgreSQL as")
            runuser = shutil.which("runuser")
            self._as = [runuser, "-u", account, "--"] if runuser else ["su", account, "-s", "/bin/sh", "-c"]
            shutil.chown(self.folder, user=account)

    def _run(self, *argv: str) -> subprocess.CompletedProcess:
        cmd = [str(a) for a in argv]
        if self._as and self._as[0] == "su":  # su -c takes one shell command line
            cmd = [*self._as, shlex.join(cmd)]
        else:
            cmd = [*self._as, *cmd]
        # output to a file, not a pipe: the server started by pg_ctl must not hold our pipe open
        with open(self.folder / "pg_ctl.out", "w+b") as out:
            proc = subprocess.run(
                cmd, stdout=out, stderr=subprocess.STDOUT, cwd=self.folder, timeout=60, check=False
            )  # cwd: the account running the server may not be allowed into ours
            out.seek(0)
            proc.stdout = out.read().decode(errors="replace")
        return proc

    def start(self) -> None:
        initdb = self._run(
            self.bindir / "initdb", "-D", self.data, "-U", self.user, "-A", "trust", "-E", "UTF8", "--no-locale",
            "--no-sync",
        )  # fmt: skip
        if initdb.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{initdb.stdout}")
        options = f"-k {shlex.quote(str(self.folder))} -c listen_addresses= -c fsync=off -c synchronous_commit=off"
        options += " -c full_page_writes=off -c max_connections=200"
        started = self._run(self.bindir / "pg_ctl", "-D", self.data, "-l", self.log, "-o", options, "-w", "start")
        if started.returncode != 0:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            raise RuntimeError(f"pg_ctl start failed:\n{started.stdout}\n{log}")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(self.bindir / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        self.cleanup()

    def cleanup(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@/{database}?host={quote(str(self.folder), safe='/')}"


def _unprivileged_account() -> str | None:
    import pwd

    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    return None


def postgres_bindir() -> Path | None:
    """Where initdb and pg_ctl are: ``pg_config --bindir``, then ``/usr/lib/postgresql/*/bin`` (newest first),
    then the PATH."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True)
            candidates.append(Path(out.stdout.strip()))
        except (OSError, subprocess.SubprocessError):
            pass
    versions = [Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")]
    candidates += sorted(versions, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL cluster for the whole session, stopped at the end even when tests fail."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed: pip install 'psycopg[binary]' (requirements-dev.txt pins it)")
    bindir = postgres_bindir()
    if bindir is None:
        pytest.skip(
            "no PostgreSQL server binaries (initdb, pg_ctl) in `pg_config --bindir`, /usr/lib/postgresql/*/bin "
            "or on the PATH"
        )
    server = PostgresServer(bindir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_admin(postgres_server: PostgresServer) -> Iterator[sa.Engine]:
    """An autocommit engine on the server's ``postgres`` database, to create and drop test databases."""
    engine = sa.create_engine(postgres_server.url(), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_url(postgres_admin: sa.Engine, postgres_server: PostgresServer) -> Iterator[str]:
    """URL of a new, empty database for this test only (dropped afterwards)."""
    name = f"reclab_test_{secrets.token_hex(6)}"
    with postgres_admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = postgres_server.url(name)
    yield url
    _kill_leftover_workers()  # they write to this database
    engine = store_module._ENGINES.pop(url, None)
    if engine is not None:
        engine.dispose()
    with postgres_admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---------------------------------------------------------------------- the store, on each backend
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(autouse=True)
def _default_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SQLite file under the test's RECLAB_HOME, whatever the environment says (the ``postgresql``
    backend below sets RECLAB_DB again for its tests)."""
    monkeypatch.delenv("RECLAB_DB", raising=False)
    monkeypatch.delenv("RECLAB_MAX_JOBS", raising=False)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, _default_database: None) -> str:
    """``sqlite``: the file under the test's RECLAB_HOME; ``postgresql``: a fresh database on the throwaway
    server, set as RECLAB_DB so everything the test starts (worker processes, a second RunStore) uses it."""
    if request.param == "postgresql":
        monkeypatch.setenv("RECLAB_DB", request.getfixturevalue("postgres_url"))
    return request.param


@pytest.fixture
def store(backend: str, reclab_home: Path) -> RunStore:
    return RunStore(home=reclab_home)


def _kill_leftover_workers() -> None:
    for proc in list(jobs_module._CHILDREN.values()):
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
    jobs_module._CHILDREN.clear()


@pytest.fixture(autouse=True)
def _no_leftover_workers():
    """Every worker a test started is reaped or killed before the next test (no stray processes)."""
    yield
    _kill_leftover_workers()
