"""PostgreSQL-only checks of the run store, on a throwaway local server (see conftest.py; skipped without
PostgreSQL binaries or psycopg). Everything else in test_run_store.py and test_run_jobs.py runs on both
SQLite and PostgreSQL through the ``store`` fixture."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

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
