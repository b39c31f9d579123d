"""The run store: every experiment run, its protocol, per-epoch history, metrics and artifacts.

Tables (SQLAlchemy Core, no ORM, so the same code runs on SQLite and PostgreSQL):

* ``runs``: one row per run: identity (id, name, tags, notes), what was trained (model, params, full spec),
  on which data (dataset name + fingerprint, data reference that reloads it), the protocol, seed, device,
  library versions, status and timestamps, error message, final metrics, plus the job columns the scheduler
  needs (pid, host, heartbeat, cancel flag).
* ``epochs``: one row per (run, epoch): losses and validation metrics (JSON), epoch and elapsed seconds.
* ``artifacts``: files in the run folder ``$RECLAB_HOME/runs/<id>/`` (model, top-K lists, per-user metrics,
  log), by kind.

The default database is ``sqlite:///$RECLAB_HOME/reclab.db`` in WAL mode (readers never block the writer,
so the dashboard can poll while workers write); ``$RECLAB_DB`` (any SQLAlchemy URL) overrides it, e.g.
``postgresql+psycopg://user:password@host/database`` (needs ``pip install "psycopg[binary]"``; tested with
PostgreSQL 15). Values are checked the way the strictest backend would (string lengths, integer ranges, no
NUL characters), so a run that SQLite stores is stored by PostgreSQL too. Timestamps are Unix seconds
(float). Status moves ``queued`` → ``running`` → ``finished`` | ``failed`` | ``cancelled`` | ``interrupted``.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import secrets
import shutil
import socket
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from recsys_core.config import reclab_home
from recsys_core.errors import ConfigError

STATUSES = ("queued", "running", "finished", "failed", "cancelled", "interrupted")
ACTIVE = ("queued", "running")
DONE = ("finished", "failed", "cancelled", "interrupted")

metadata = sa.MetaData()

runs_table = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("notes", sa.Text, nullable=False, default=""),
    sa.Column("model", sa.String(64), nullable=False, index=True),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("spec", sa.JSON, nullable=False),  # ExperimentSpec.to_dict(): reruns it
    sa.Column("data_ref", sa.JSON, nullable=False),  # how the worker reloads the data (see runs.jobs)
    sa.Column("dataset_name", sa.String(200), index=True),
    sa.Column("dataset_fingerprint", sa.String(64)),  # the saved dataset's (or the files') fingerprint
    sa.Column("data_fingerprint", sa.String(64)),  # of the prepared train/val/test parts
    sa.Column("protocol", sa.JSON),
    sa.Column("seed", sa.BigInteger),  # any 64-bit seed (PostgreSQL's INTEGER stops at 2**31 - 1)
    sa.Column("device", sa.String(32)),
    sa.Column("device_name", sa.String(200)),
    sa.Column("versions", sa.JSON),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("created_at", sa.Float, nullable=False, index=True),
    sa.Column("started_at", sa.Float),
    sa.Column("finished_at", sa.Float),
    sa.Column("heartbeat_at", sa.Float),
    sa.Column("error", sa.Text),  # failure message, or why a run was interrupted
    sa.Column("epochs_total", sa.Integer),
    sa.Column("last_epoch", sa.Integer, nullable=False, default=0),
    sa.Column("metrics", sa.JSON),
    sa.Column("result", sa.JSON),  # the rest of ExperimentResult.to_dict() (timings, best epoch, sizes)
    sa.Column("pid", sa.Integer),
    sa.Column("host", sa.String(200)),
    sa.Column("cancel_requested", sa.Boolean, nullable=False, default=False),
)

epochs_table = sa.Table(
    "epochs",
    metadata,
    sa.Column("run_id", sa.String(40), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("epoch", sa.Integer, primary_key=True),
    sa.Column("losses", sa.JSON, nullable=False),
    sa.Column("val", sa.JSON, nullable=False),
    sa.Column("seconds", sa.Float, nullable=False),
    sa.Column("elapsed", sa.Float, nullable=False),
    sa.Column("recorded_at", sa.Float, nullable=False),
)

artifacts_table = sa.Table(
    "artifacts",
    metadata,
    sa.Column("run_id", sa.String(40), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("kind", sa.String(32), primary_key=True),  # model | recommendations | per_user | log | ...
    sa.Column("path", sa.Text, nullable=False),  # relative to the run folder
    sa.Column("bytes", sa.BigInteger),
    sa.Column("created_at", sa.Float, nullable=False),
)

_ENGINES: dict[str, sa.Engine] = {}


def database_url(home: str | Path | None = None) -> str:
    """``$RECLAB_DB`` if set, else ``sqlite:///<home>/reclab.db`` (home defaults to ``$RECLAB_HOME``)."""
    url = os.environ.get("RECLAB_DB", "").strip()
    if url:
        return url
    home = Path(home) if home is not None else reclab_home()
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home.resolve() / 'reclab.db'}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    # WAL: the dashboard's reads never wait for a worker's write; busy_timeout: concurrent writers queue
    # instead of failing with "database is locked"; foreign keys so deleting a run cascades.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


# any constant: the key of the PostgreSQL advisory lock held while the tables are created
_SCHEMA_LOCK = 0x5265634C6162  # "RecLab"
_URL_FORMS = (
    "Use sqlite:////absolute/path/reclab.db or postgresql+psycopg://user:password@host/database "
    '(pip install "psycopg[binary]"), or unset RECLAB_DB to use $RECLAB_HOME/reclab.db.'
)


def get_engine(url: str) -> sa.Engine:
    """One engine per URL per process (the dashboard re-creates RunStore on every rerun), tables created.

    Raises:
        ConfigError: the URL cannot be parsed, its driver is not installed, or the database cannot be
            reached or its tables cannot be created; the message says which, and what to do.
    """
    engine = _ENGINES.get(url)
    if engine is None:
        engine = _open(url)
        _ENGINES[url] = engine
    return engine


def _open(url: str) -> sa.Engine:
    field = "RECLAB_DB" if os.environ.get("RECLAB_DB", "").strip() == url else "url"
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise ConfigError(
            f"The run database URL {_hide_password(url)!r} ({field}) is not a database URL.",
            field=field,
            hint=_URL_FORMS,
        ) from None
    shown = parsed.render_as_string(hide_password=True)
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = sa.create_engine(parsed, connect_args={"timeout": 30})
            sa.event.listen(engine, "connect", _sqlite_pragmas)
        else:
            connect_args: dict[str, Any] = {}
            if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
                connect_args["connect_timeout"] = 10  # an unreachable host fails in seconds, not minutes
            engine = sa.create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
    except sa.exc.NoSuchModuleError:
        raise ConfigError(
            f"The run database URL {shown!r} ({field}) names an unknown database kind '{parsed.drivername}'.",
            field=field,
            hint=_URL_FORMS,
        ) from None
    except ImportError as err:
        package = "psycopg[binary]" if parsed.get_backend_name() == "postgresql" else (err.name or "its driver")
        raise ConfigError(
            f"The run database URL {shown!r} ({field}) needs the Python package '{err.name}', which is not installed.",
            field=field,
            hint=f'Install it (pip install "{package}") or unset RECLAB_DB to use $RECLAB_HOME/reclab.db.',
        ) from None
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                # processes opening a new database at once would race to create the same tables
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
            metadata.create_all(conn)
    except sa.exc.DBAPIError as err:
        engine.dispose()
        reason = str(err.orig).strip().splitlines()[0] if err.orig is not None else str(err).splitlines()[0]
        action = "connect to" if isinstance(err, sa.exc.OperationalError) else "create the run tables in"
        if engine.dialect.name == "sqlite":
            hint = "Check that the file's folder exists and is writable."
        else:
            hint = (
                "Check that the server runs and that the URL's host, port, user, password and database are right "
                "(the user needs the right to create tables)."
            )
        raise ConfigError(
            f"Could not {action} the run database {shown!r} ({field}): {reason.rstrip('.')}.",
            field=field,
            hint=hint + (" Or unset RECLAB_DB to use $RECLAB_HOME/reclab.db." if field == "RECLAB_DB" else ""),
        ) from None
    return engine


def _hide_password(url: str) -> str:
    """``scheme://user:***@host...`` for messages (also for URLs SQLAlchemy cannot parse)."""
    head, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user, colon, _password = credentials.partition(":")
    return f"{head}://{user}{':***' if colon else ''}@{host}"


def new_run_id() -> str:
    """Short id that sorts by creation time: ``YYMMDD-HHMMSS-mmmxxxxxx`` (UTC, milliseconds, 6 random hex
    digits, so ids created in the same millisecond collide with probability ~1e-7 per pair)."""
    now = time.time()
    stamp = time.strftime("%y%m%d-%H%M%S", time.gmtime(now))
    return f"{stamp}-{int(now * 1000) % 1000:03d}{secrets.token_hex(3)}"


def jsonable(value: Any) -> Any:
    """Plain JSON value: numpy scalars → Python numbers, arrays → lists, NaN/inf → None (PostgreSQL JSON
    rejects NaN)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if getattr(value, "ndim", 0) and callable(getattr(value, "tolist", None)):  # numpy array → list
        return jsonable(value.tolist())
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (int, str, bool)):
        return value
    return str(value)


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries that change results (recorded with every run)."""
    import platform
    from importlib import metadata as md

    out = {"python": platform.python_version()}
    for dist, key in (
        ("torch", "torch"),
        ("numpy", "numpy"),
        ("pandas", "pandas"),
        ("scipy", "scipy"),
        ("scikit-learn", "scikit-learn"),
        ("recsys-core", "recsys_core"),
    ):
        try:
            out[key] = md.version(dist)
        except md.PackageNotFoundError:
            out[key] = "0.1.0+src" if key == "recsys_core" else "missing"
    return out


# descriptive columns filled in automatically (a data file's name, a GPU's, the host's): cut to fit rather
# than failing a run over them; other over-long strings are the caller's (a run name, a tag) and rejected
_CUT_TO_FIT = frozenset({"dataset_name", "device_name", "host"})


def _fit(table: sa.Table, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` as every backend stores them: what SQLite would take silently but PostgreSQL rejects is
    checked here, the same way on both. Strings longer than their column raise :class:`ConfigError` naming
    the field (automatic descriptions are cut with "…" instead); NUL characters, which PostgreSQL text cannot
    hold, become U+FFFD; integers must fit their column (INTEGER: 32 bits, BIGINT: 64); infinite and NaN
    floats become NULL. SQL expressions pass through."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        kind = table.c[key].type
        if isinstance(value, str):
            value = value.replace("\x00", "\ufffd")
            length = getattr(kind, "length", None)
            if length is not None and len(value) > length:
                if key not in _CUT_TO_FIT:
                    raise ConfigError(
                        f"{key} has {len(value)} characters ('{value[:30]}…'); at most {length} are allowed.",
                        field=key,
                    )
                value = value[: length - 1] + "…"
        elif isinstance(value, numbers.Integral) and not isinstance(value, bool) and isinstance(kind, sa.Integer):
            value = int(value)
            bits = 63 if isinstance(kind, sa.BigInteger) else 31
            if not -(2**bits) <= value < 2**bits:
                raise ConfigError(f"{key} must be between {-(2**bits)} and {2**bits - 1}; got {value}.", field=key)
        elif isinstance(value, numbers.Real) and isinstance(kind, sa.Float):
            value = float(value) if math.isfinite(value) else None
        out[key] = value
    return out


def _not_found(run_id: str) -> ConfigError:
    return ConfigError(
        f"No run with id '{run_id}'.", field="run_id", hint="List runs with `python -m recsys_core runs list`."
    )


class RunStore:
    """Runs in a database plus a folder per run for its files.

    Args:
        url: SQLAlchemy URL; default :func:`database_url` (``$RECLAB_DB`` or SQLite under ``$RECLAB_HOME``).
        home: data directory (default ``$RECLAB_HOME``); run folders live in ``<home>/runs/<id>/``.

    Every method is one short transaction, safe to call from several processes at once. Runs are returned
    as plain dicts (JSON-ready; timestamps in Unix seconds).
    """

    def __init__(self, url: str | None = None, *, home: str | Path | None = None) -> None:
        self.home = (Path(home) if home is not None else reclab_home()).resolve()
        self.home.mkdir(parents=True, exist_ok=True)
        self.url = url or database_url(self.home)
        self.engine = get_engine(self.url)
        self.runs_dir = self.home / "runs"

    # ------------------------------------------------------------------ creating and reading
    def run_dir(self, run_id: str) -> Path:
        """The folder of a run's artifacts (created on demand)."""
        folder = self.runs_dir / run_id
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def create(
        self,
        *,
        model: str,
        params: dict[str, Any] | None = None,
        spec: dict[str, Any] | None = None,
        data_ref: dict[str, Any] | None = None,
        name: str | None = None,
        tags: Sequence[str] = (),
        notes: str = "",
        dataset_name: str | None = None,
        dataset_fingerprint: str | None = None,
        protocol: dict[str, Any] | None = None,
        seed: int | None = None,
        epochs_total: int | None = None,
        status: str = "queued",
    ) -> str:
        """Insert a run (``queued`` by default; ``running`` for a run recorded in-process) and return its id.

        ``name`` defaults to ``"<model> <id>"``; ``tags`` are stripped and de-duplicated.
        """
        if status not in ("queued", "running"):
            raise ConfigError(f"a new run is queued or running; got {status!r}.", field="status")
        if name is not None and len(name.strip()) > 200:
            raise ConfigError(f"A run name must have 1-200 characters; this one has {len(name.strip())}.", field="name")
        run_id = new_run_id()
        now = time.time()
        spec = dict(spec or {"model": model, "params": dict(params or {})})
        row = {
            "id": run_id,
            "name": (name or "").strip() or f"{model} {run_id}",
            "tags": _clean_tags(tags),
            "notes": notes or "",
            "model": model,
            "params": jsonable(dict(params if params is not None else spec.get("params", {}))),
            "spec": jsonable(spec),
            "data_ref": jsonable(dict(data_ref or {})),
            "dataset_name": dataset_name,
            "dataset_fingerprint": dataset_fingerprint,
            "protocol": jsonable(protocol) if protocol is not None else None,
            "seed": seed if seed is not None else spec.get("seed"),
            "status": status,
            "created_at": now,
            "started_at": now if status == "running" else None,
            "heartbeat_at": now if status == "running" else None,
            "epochs_total": epochs_total,
            "last_epoch": 0,
            "cancel_requested": False,
        }
        if status == "running":
            row.update(pid=os.getpid(), host=socket.gethostname(), versions=library_versions())
        with self.engine.begin() as conn:
            conn.execute(runs_table.insert().values(**_fit(runs_table, row)))
        return run_id

    def exists(self, run_id: str) -> bool:
        """Whether a run with this id exists."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(runs_table.c.id).where(runs_table.c.id == run_id)).first() is not None

    def get(self, run_id: str, *, with_history: bool = True) -> dict[str, Any]:
        """One run as a dict (every ``runs`` column, ``history`` = list of epoch dicts, ``artifacts`` =
        kind → absolute path). Raises :class:`ConfigError` when there is no such run."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(runs_table).where(runs_table.c.id == run_id)).mappings().first()
            if row is None:
                raise _not_found(run_id)
            run = self._row(row)
            if with_history:
                run["history"] = self._histories(conn, [run_id])[run_id]
            arts = conn.execute(sa.select(artifacts_table).where(artifacts_table.c.run_id == run_id)).mappings()
            run["artifacts"] = {a["kind"]: str(self.runs_dir / run_id / a["path"]) for a in arts}
        return run

    def list(
        self,
        *,
        status: str | Iterable[str] | None = None,
        model: str | None = None,
        dataset: str | None = None,
        tag: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Runs, newest first, optionally filtered (status may be one or several), without histories."""
        query = sa.select(runs_table).order_by(runs_table.c.created_at.desc(), runs_table.c.id.desc())
        if status is not None:
            wanted = [status] if isinstance(status, str) else list(status)
            query = query.where(runs_table.c.status.in_(wanted))
        if model:
            query = query.where(runs_table.c.model == model)
        if dataset:
            query = query.where(
                runs_table.c.dataset_name == _fit(runs_table, {"dataset_name": dataset})["dataset_name"]
            )
        if tag:
            # tags are a JSON list of strings; match the quoted, JSON-escaped tag in its text (portable
            # across SQLite and PostgreSQL), then confirm in Python to rule out escaping look-alikes
            needle = json.dumps(tag.strip())
            needle = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(sa.cast(runs_table.c.tags, sa.Text).like(f"%{needle}%", escape="\\"))
        if limit:
            query = query.limit(int(limit))
        with self.engine.connect() as conn:
            rows = [self._row(r) for r in conn.execute(query).mappings()]
        if tag:
            rows = [r for r in rows if tag.strip() in r["tags"]]
        return rows

    def history(self, run_id: str) -> list[dict[str, Any]]:
        """Per-epoch records of one run, in epoch order: ``epoch, losses, val, seconds, elapsed``."""
        with self.engine.connect() as conn:
            return self._histories(conn, [run_id])[run_id]

    def histories(self, run_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Histories of several runs in one query (e.g. 20 loss curves on one chart)."""
        with self.engine.connect() as conn:
            return self._histories(conn, list(run_ids))

    def _histories(self, conn: sa.Connection, run_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {r: [] for r in run_ids}
        if not run_ids:
            return out
        e = epochs_table.c
        query = (
            sa.select(e.run_id, e.epoch, e.losses, e.val, e.seconds, e.elapsed)
            .where(e.run_id.in_(run_ids))
            .order_by(e.run_id, e.epoch)
        )
        for r in conn.execute(query):
            out[r.run_id].append(
                {"epoch": r.epoch, "losses": r.losses, "val": r.val, "seconds": r.seconds, "elapsed": r.elapsed}
            )
        return out

    def _row(self, row: Any) -> dict[str, Any]:
        run = dict(row)
        run["tags"] = list(run.get("tags") or [])
        run["cancel_requested"] = bool(run.get("cancel_requested"))
        run["run_dir"] = str(self.runs_dir / run["id"])
        return run

    # ------------------------------------------------------------------ editing
    def _update(self, run_id: str, where: Any = None, **values: Any) -> int:
        query = runs_table.update().where(runs_table.c.id == run_id)
        if where is not None:
            query = query.where(where)
        with self.engine.begin() as conn:
            return conn.execute(query.values(**_fit(runs_table, values))).rowcount

    def _update_existing(self, run_id: str, **values: Any) -> None:
        if not self._update(run_id, **values):
            raise _not_found(run_id)

    def rename(self, run_id: str, name: str) -> None:
        """Give a run a new display name (1-200 characters)."""
        name = (name or "").strip()
        if not name or len(name) > 200:
            raise ConfigError(f"A run name must have 1-200 characters; this one has {len(name)}.", field="name")
        self._update_existing(run_id, name=name)

    def tag(self, run_id: str, add: Sequence[str] = (), remove: Sequence[str] = ()) -> list[str]:
        """Add and/or remove tags; returns the run's tags afterwards (sorted).

        Safe against concurrent edits of the same run's tags (two users, two tabs): the new list is written
        only if the stored one is still the one read (compared as text, which works for JSON on SQLite and
        PostgreSQL alike); otherwise it is read again. Neither backend's default isolation prevents the lost
        update by itself: SQLite's driver reads outside the write transaction, PostgreSQL reads committed.
        """
        add_set, drop = set(_clean_tags(add)), set(_clean_tags(remove))
        c = runs_table.c
        stored = sa.cast(c.tags, sa.Text)
        while True:  # each retry means another edit went in first, so this ends
            with self.engine.begin() as conn:
                row = conn.execute(sa.select(c.tags, stored.label("text")).where(c.id == run_id)).first()
                if row is None:
                    raise _not_found(run_id)
                tags = sorted((set(row.tags or []) | add_set) - drop)
                query = runs_table.update().where(c.id == run_id, stored == row.text)
                if conn.execute(query.values(tags=tags)).rowcount:
                    return tags

    def set_notes(self, run_id: str, notes: str) -> None:
        """Replace a run's free-text notes."""
        self._update_existing(run_id, notes=notes or "")

    def delete(self, run_id: str, *, force: bool = False) -> None:
        """Delete a run, its history and its folder of artifacts. A queued or running run must be cancelled
        first unless ``force`` (a running worker would otherwise keep writing to a deleted run)."""
        run = self.get(run_id, with_history=False)
        if run["status"] in ACTIVE and not force:
            raise ConfigError(
                f"Run '{run_id}' is {run['status']}.", field="run_id", hint="Cancel it first, then delete it."
            )
        with self.engine.begin() as conn:
            # explicit deletes: foreign-key cascades are off on some SQLite connections and backends
            conn.execute(epochs_table.delete().where(epochs_table.c.run_id == run_id))
            conn.execute(artifacts_table.delete().where(artifacts_table.c.run_id == run_id))
            conn.execute(runs_table.delete().where(runs_table.c.id == run_id))
        shutil.rmtree(self.runs_dir / run_id, ignore_errors=True)

    # ------------------------------------------------------------------ what a worker writes
    def mark_started(
        self,
        run_id: str,
        *,
        pid: int | None = None,
        host: str | None = None,
        device: str | None = None,
        device_name: str | None = None,
        epochs_total: int | None = None,
    ) -> None:
        """The worker has started: record its process, device and library versions; status ``running``."""
        now = time.time()
        values: dict[str, Any] = {
            "status": "running",
            "pid": pid if pid is not None else os.getpid(),
            "host": host or socket.gethostname(),
            "heartbeat_at": now,
            "versions": library_versions(),
            "error": None,
        }
        if device is not None:
            values.update(device=device, device_name=device_name)
        if epochs_total is not None:
            values["epochs_total"] = int(epochs_total)
        with self.engine.begin() as conn:
            n = conn.execute(
                runs_table.update()
                .where(runs_table.c.id == run_id)
                .values(started_at=sa.func.coalesce(runs_table.c.started_at, now), **_fit(runs_table, values))
            ).rowcount
        if not n:
            raise _not_found(run_id)

    def heartbeat(self, run_id: str) -> bool:
        """Refresh the run's heartbeat; returns whether cancellation was requested (one round trip each)."""
        with self.engine.begin() as conn:
            conn.execute(runs_table.update().where(runs_table.c.id == run_id).values(heartbeat_at=time.time()))
            row = conn.execute(sa.select(runs_table.c.cancel_requested).where(runs_table.c.id == run_id)).first()
        return bool(row and row.cancel_requested)

    def cancel_requested(self, run_id: str) -> bool:
        """Whether someone asked this run to stop (cheap: one indexed read)."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(runs_table.c.cancel_requested).where(runs_table.c.id == run_id)).first()
        return bool(row and row.cancel_requested)

    def request_cancel(self, run_id: str) -> str:
        """Cancel a run: a queued run becomes ``cancelled`` at once; a running one gets the cancel flag its
        worker polls. Returns the status afterwards (finished runs are left as they are)."""
        now = time.time()
        with self.engine.begin() as conn:
            c = runs_table.c
            conn.execute(
                runs_table.update()
                .where(c.id == run_id, c.status == "queued")
                .values(status="cancelled", finished_at=now, cancel_requested=True, error="cancelled while queued")
            )
            conn.execute(runs_table.update().where(c.id == run_id, c.status == "running").values(cancel_requested=True))
            row = conn.execute(sa.select(c.status).where(c.id == run_id)).first()
        if row is None:
            raise _not_found(run_id)
        return row.status

    def append_epoch(self, run_id: str, record: Any) -> None:
        """Store one epoch (an ``EpochRecord`` or its dict) and move ``last_epoch``/heartbeat forward."""
        d = record.to_dict() if hasattr(record, "to_dict") else dict(record)
        now = time.time()
        epoch = int(d["epoch"])
        row = {
            "losses": jsonable(d.get("losses", {})),
            "val": jsonable(d.get("val", {})),
            "seconds": _finite(d.get("seconds", 0.0)),
            "elapsed": _finite(d.get("elapsed", 0.0)),
            "recorded_at": now,
        }
        with self.engine.begin() as conn:
            # replace: a resumed or re-recorded epoch overwrites the old row instead of failing
            conn.execute(epochs_table.delete().where(epochs_table.c.run_id == run_id, epochs_table.c.epoch == epoch))
            conn.execute(epochs_table.insert().values(**_fit(epochs_table, {"run_id": run_id, "epoch": epoch, **row})))
            c = runs_table.c
            conn.execute(
                runs_table.update()
                .where(c.id == run_id)
                .values(last_epoch=sa.case((c.last_epoch < epoch, epoch), else_=c.last_epoch), heartbeat_at=now)
            )

    def finish(self, run_id: str, result: Any, *, status: str = "finished") -> None:
        """Record the final result (an ``ExperimentResult`` or its ``to_dict()``): metrics, protocol, device,
        timings; status ``finished`` (or ``cancelled`` for a run stopped early by the user)."""
        d = result.to_dict() if hasattr(result, "to_dict") else dict(result)
        rest = {k: v for k, v in d.items() if k not in ("metrics", "history", "protocol", "params", "model")}
        values: dict[str, Any] = {
            "status": status,
            "finished_at": time.time(),
            "metrics": jsonable(d.get("metrics", {})),
            "result": jsonable(rest),
            "error": None,
        }
        if d.get("protocol") is not None:
            values["protocol"] = jsonable(d["protocol"])
            values["data_fingerprint"] = d["protocol"].get("data_fingerprint")
        if d.get("params") is not None:
            values["params"] = jsonable(d["params"])
        if d.get("device"):
            values["device"] = d["device"]
        if d.get("history"):
            values["last_epoch"] = max(int(h["epoch"]) for h in d["history"])
        self._update_existing(run_id, **values)

    def fail(self, run_id: str, error: str, *, status: str = "failed", only_if_running: bool = False) -> bool:
        """Mark a run ``failed`` (or ``interrupted``/``cancelled``) with a message; history is kept.

        With ``only_if_running`` the update applies only while the run is still ``running`` (so a scheduler
        never overwrites what the worker recorded). Returns whether the run changed.
        """
        if status not in DONE:
            raise ConfigError(f"status must be one of {', '.join(DONE)}; got {status!r}.", field="status")
        where = runs_table.c.status == "running" if only_if_running else None
        return bool(self._update(run_id, where, status=status, error=str(error)[:20_000], finished_at=time.time()))

    def set_fields(self, run_id: str, **values: Any) -> None:
        """Set columns directly (dataset name/fingerprint, protocol, epochs_total, ...) — for the worker."""
        unknown = set(values) - set(runs_table.c.keys())
        if unknown:
            raise ConfigError(f"runs has no column {', '.join(sorted(unknown))}.", field="values")
        clean = {k: jsonable(v) if isinstance(v, (dict, list)) else v for k, v in values.items()}
        self._update_existing(run_id, **clean)

    # ------------------------------------------------------------------ artifacts
    def add_artifact(self, run_id: str, kind: str, path: str | Path) -> Path:
        """Register a file or folder inside the run folder under ``kind`` (replacing an older one)."""
        folder = self.runs_dir / run_id
        path = Path(path)
        full = path if path.is_absolute() else folder / path
        rel = os.path.relpath(full, folder)
        size = (
            sum(p.stat().st_size for p in full.rglob("*") if p.is_file())
            if full.is_dir()
            else (full.stat().st_size if full.exists() else None)
        )
        with self.engine.begin() as conn:
            conn.execute(
                artifacts_table.delete().where(artifacts_table.c.run_id == run_id, artifacts_table.c.kind == kind)
            )
            row = {"run_id": run_id, "kind": kind, "path": rel, "bytes": size, "created_at": time.time()}
            conn.execute(artifacts_table.insert().values(**_fit(artifacts_table, row)))
        return full

    def artifacts(self, run_id: str) -> dict[str, Path]:
        """kind → absolute path of each registered artifact."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(artifacts_table).where(artifacts_table.c.run_id == run_id)).mappings()
            return {r["kind"]: self.runs_dir / run_id / r["path"] for r in rows}

    # ------------------------------------------------------------------ progress and queue
    def progress(self, run_id: str) -> dict[str, Any]:
        """What the UI polls every second, in one query: ``status, epoch, n_epochs, elapsed`` (s), ``eta``
        (s, from the mean epoch time; None before the first epoch), ``losses``/``val`` of the latest epoch,
        ``queue_position`` (1 = next to start; None unless queued), ``error``."""
        r, e = runs_table.c, epochs_table.c
        queued = runs_table.alias("q")
        position = (
            sa.select(sa.func.count())
            .where(
                queued.c.status == "queued",
                sa.or_(
                    queued.c.created_at < r.created_at,
                    sa.and_(queued.c.created_at == r.created_at, queued.c.id <= r.id),
                ),
            )
            .scalar_subquery()
        )
        query = (
            sa.select(
                r.id,
                r.status,
                r.last_epoch,
                r.epochs_total,
                r.started_at,
                r.finished_at,
                r.error,
                r.cancel_requested,
                e.losses,
                e.val,
                e.elapsed,
                position.label("position"),
            )
            .select_from(runs_table.outerjoin(epochs_table, sa.and_(e.run_id == r.id, e.epoch == r.last_epoch)))
            .where(r.id == run_id)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise _not_found(run_id)
        now = time.time()
        elapsed = None
        if row.started_at is not None:
            elapsed = (row.finished_at or now) - row.started_at
        eta = None
        if row.status == "running" and row.last_epoch and row.epochs_total and row.elapsed:
            per_epoch = row.elapsed / row.last_epoch
            eta = max(row.epochs_total - row.last_epoch, 0) * per_epoch
        return {
            "id": row.id,
            "status": row.status,
            "epoch": int(row.last_epoch or 0),
            "n_epochs": row.epochs_total,
            "elapsed": elapsed,
            "eta": eta,
            "losses": row.losses or {},
            "val": row.val or {},
            "queue_position": int(row.position) if row.status == "queued" else None,
            "cancel_requested": bool(row.cancel_requested),
            "error": row.error,
        }

    def queue(self) -> list[str]:
        """Ids of queued runs in the order they will start."""
        c = runs_table.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(c.id).where(c.status == "queued").order_by(c.created_at, c.id))
            return [r.id for r in rows]

    # ------------------------------------------------------------------ export
    def export(self, run_id: str, folder: str | Path) -> dict[str, Path]:
        """Write ``<id>.config.json`` (the spec and data reference that rerun it: ``python -m recsys_core runs
        submit --config FILE``) and ``<id>.metrics.csv`` (one row per epoch with every loss/validation metric,
        then a ``final`` row with the test metrics) into ``folder``. Returns their paths."""
        import csv

        run = self.get(run_id)
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        config = {
            "reclab_run_config": 1,
            "run_id": run["id"],
            "name": run["name"],
            "tags": run["tags"],
            "spec": run["spec"],
            "data": run["data_ref"],
            "dataset_name": run["dataset_name"],
            "dataset_fingerprint": run["dataset_fingerprint"],
            "protocol": run["protocol"],
            "versions": run["versions"],
            "command": rerun_command(run),
        }
        config_path = folder / f"{run_id}.config.json"
        config_path.write_text(json.dumps(config, indent=2, default=str))
        rows: list[dict[str, Any]] = []
        for h in run["history"]:
            rows.append(
                {
                    "row": "epoch",
                    "epoch": h["epoch"],
                    "seconds": h["seconds"],
                    "elapsed": h["elapsed"],
                    **{f"loss.{k}": v for k, v in h["losses"].items()},
                    **{f"val.{k}": v for k, v in h["val"].items()},
                }
            )
        rows.append({"row": "final", "epoch": run["last_epoch"], **(run["metrics"] or {})})
        columns: list[str] = []
        for r in rows:
            columns += [k for k in r if k not in columns]
        metrics_path = folder / f"{run_id}.metrics.csv"
        with metrics_path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
        return {"config": config_path, "metrics": metrics_path}


def rerun_command(run: dict[str, Any]) -> list[str]:
    """argv (after ``python -m recsys_core``) that queues the same experiment again from the CLI."""
    spec, data = run.get("spec") or {}, run.get("data_ref") or {}
    argv = ["runs", "submit", "--model", str(spec.get("model", run.get("model")))]
    kind = data.get("kind")
    if kind == "dataset":
        argv += ["--dataset", str(data["name"])]
        if data.get("fingerprint"):  # the version the run was trained on, even after a replace
            argv += ["--dataset-version", str(data["fingerprint"])]
    elif kind == "file":
        argv += ["--data", str(data["data"])]
    elif kind == "files":
        argv += ["--train", str(data["train"]), "--test", str(data["test"])]
        if data.get("val"):
            argv += ["--val", str(data["val"])]
    if data.get("items"):
        argv += ["--items", str(data["items"])]
    for key, flag in (("user", "--user-col"), ("item", "--item-col"), ("rating", "--rating-col")):
        if (data.get("mapping") or {}).get(key):
            argv += [flag, str(data["mapping"][key])]
    if (data.get("mapping") or {}).get("timestamp"):
        argv += ["--timestamp-col", str(data["mapping"]["timestamp"])]
    pre, spl = data.get("preprocess") or {}, data.get("split") or {}
    if kind in ("dataset", "file"):
        argv += ["--duplicates", str(pre.get("duplicates", "last"))]
        if pre.get("implicit_threshold") is not None:
            argv += ["--implicit-threshold", str(pre["implicit_threshold"])]
        argv += ["--min-user", str(pre.get("min_user_interactions", 0))]
        argv += ["--min-item", str(pre.get("min_item_interactions", 0))]
        argv += ["--normalise", str(pre.get("normalisation", "none"))]
        argv += ["--split", str(spl.get("method", "user_random"))]
        argv += ["--test-fraction", str(spl.get("test_fraction", 0.2))]
        argv += ["--val-fraction", str(spl.get("val_fraction", 0.0))]
        if spl.get("test_last_n") is not None:
            argv += ["--leave-last", str(spl["test_last_n"])]
        if spl.get("val_last_n") is not None:
            argv += ["--val-last", str(spl["val_last_n"])]
        if spl.get("seed") is not None and int(spl["seed"]) != int(spec.get("seed", 42)):
            argv += ["--split-seed", str(spl["seed"])]
    argv += ["--seed", str(spec.get("seed", 42))]
    for key, value in (spec.get("params") or {}).items():
        argv += ["--param", f"{key}={value}"]
    if spec.get("epochs") is not None:
        argv += ["--epochs", str(spec["epochs"])]
    argv += ["--device", str(spec.get("device", "auto")), "--precision", str(spec.get("precision", "fp32"))]
    if spec.get("early_stopping"):
        argv += ["--early-stopping", str(spec["early_stopping"]), "--patience", str(spec.get("patience", 3))]
    argv += ["--k", *[str(k) for k in spec.get("ks", [10])]]
    if spec.get("candidates") == "sampled":
        argv += ["--sampled", str(spec.get("n_negatives", 100))]
    if spec.get("relevance_threshold") is not None:
        argv += ["--relevance-threshold", str(spec["relevance_threshold"])]
    argv += ["--name", str(run.get("name", ""))]
    for t in run.get("tags") or []:
        argv += ["--tag", str(t)]
    return argv


def _finite(value: Any) -> float:
    """A float for a NOT NULL seconds column: NaN and infinities (stored as NULL by SQLite, as NaN by
    PostgreSQL) become 0.0 on both."""
    value = float(value or 0.0)
    return value if math.isfinite(value) else 0.0


def _clean_tags(tags: Iterable[str]) -> list[str]:
    if isinstance(tags, str):
        tags = [tags]
    out: list[str] = []
    for t in tags:
        t = str(t).strip()
        if t and t not in out:
            if len(t) > 64:
                raise ConfigError(f"Tag '{t[:20]}…' is longer than 64 characters.", field="tags")
            out.append(t)
    return sorted(out)
