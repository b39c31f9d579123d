"""Runs that last: the run store (SQLAlchemy Core on SQLite/PostgreSQL + a folder per run), background
training jobs in worker processes, and what the ``runs``/``worker`` commands use.

Typical use::

    from recsys_core.runs import JobRunner, RunStore, dataset_ref

    jobs = JobRunner()                       # RunStore() from $RECLAB_HOME / $RECLAB_DB
    run_id = jobs.submit({"model": "ease", "params": {"l2": 200}}, dataset_ref("ml-100k"))
    jobs.poll()                              # starts it (call every second; reaps, recovers, schedules)
    jobs.progress(run_id)                    # epoch i of n, elapsed, ETA, latest losses, queue position
    jobs.store.get(run_id)                   # everything recorded, with the per-epoch history
"""

from recsys_core.runs.jobs import (
    JobRunner,
    check_data_ref,
    dataset_ref,
    default_concurrency,
    file_ref,
    files_ref,
    spec_from_dict,
)
from recsys_core.runs.store import DONE, STATUSES, RunStore, database_url, library_versions, rerun_command

__all__ = [
    "DONE",
    "STATUSES",
    "JobRunner",
    "RunStore",
    "check_data_ref",
    "database_url",
    "dataset_ref",
    "default_concurrency",
    "file_ref",
    "files_ref",
    "library_versions",
    "rerun_command",
    "spec_from_dict",
]
