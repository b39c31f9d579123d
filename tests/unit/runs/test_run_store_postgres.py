"""PostgreSQL-only checks of the run store, on a throwaway local server (see conftest.py; skipped without
PostgreSQL binaries or psycopg). Everything else in test_run_store.py and test_run_jobs.py runs on both
SQLite and PostgreSQL through the ``store`` fixture."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from recsys_core.errors import ConfigError
from recsys_core.runs import RunStore
from recsys_core.runs import store as store_module

pytestmark = pytest.mark.postgres


def test_the_schema_uses_postgresql_types(postgres_url: str, reclab_home):
    store = RunStore(postgres_url, home=reclab_home)
    assert store.engine.dialect.name == "postgresql" and store.engine.dialect.driver == "psycopg"
    with store.engine.connect() as conn:
        types = dict(
            conn.execute(
                sa.text("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'runs'")
            ).all()
        )
        cascades = conn.execute(
            sa.text("SELECT count(*) FROM information_schema.referential_constraints WHERE delete_rule = 'CASCADE'")
        ).scalar()
    assert types["tags"] == types["protocol"] == "json" and types["cancel_requested"] == "boolean"
    assert types["created_at"] == "double precision" and types["seed"] == "bigint"
    assert types["name"] == "character varying" and cascades == 2  # epochs and artifacts


def test_a_database_row_deleted_by_sql_cascades_to_epochs_and_artifacts(postgres_url: str, reclab_home):
    store = RunStore(postgres_url, home=reclab_home)
    run_id = store.create(model="bpr", status="running")
    store.append_epoch(run_id, {"epoch": 1, "losses": {"loss": 1.0}})
    (store.run_dir(run_id) / "log.txt").write_text("x")
    store.add_artifact(run_id, "log", "log.txt")
    with store.engine.begin() as conn:  # e.g. an admin cleaning up with psql: the foreign keys cascade
        conn.execute(store_module.runs_table.delete().where(store_module.runs_table.c.id == run_id))
    assert store.history(run_id) == [] and store.artifacts(run_id) == {}


def test_processes_opening_a_new_database_at_once_create_the_tables_once(postgres_url: str):
    """Several dashboards / workers starting on an empty team database: without the advisory lock, all but
    one failed with "duplicate key value violates unique constraint pg_type_typname_nsp_index"."""
    start = threading.Barrier(6)
    failures: list[BaseException] = []
    engines: list[sa.Engine] = []

    def open_store() -> None:
        start.wait()
        try:
            engines.append(store_module._open(postgres_url))  # what get_engine does in a fresh process
        except BaseException as err:
            failures.append(err)

    threads = [threading.Thread(target=open_store) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for engine in engines:
        engine.dispose()
    assert failures == [] and len(engines) == 6


def test_an_unreachable_or_missing_database_is_a_clear_config_error(postgres_server, monkeypatch, tmp_path):
    monkeypatch.setenv("RECLAB_DB", postgres_server.url("no_such_database"))
    with pytest.raises(
        ConfigError, match=r'Could not connect.*\(RECLAB_DB\).*database "no_such_database" does not'
    ) as e:
        RunStore()
    assert "Or unset RECLAB_DB" in str(e.value) and e.value.field == "RECLAB_DB"
    nowhere = f"postgresql+psycopg://me:secret@/reclab?host={tmp_path}"  # no server listens there
    with pytest.raises(ConfigError, match="Could not connect to the run database") as e:
        RunStore(nowhere)
    assert "secret" not in str(e.value) and "Check that the server runs" in str(e.value) and e.value.field == "url"
