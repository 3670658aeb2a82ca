"""Dev and ops tooling around the wind_pipeline code location; never loaded by Dagster.

- the local stack (`wind-stack up|down|status`, `make up`): an embedded PostgreSQL server
  (`postgres`, `pg_auth`, `os_user`, `pg_processes`), its roles and their generated passwords
  (`db_roles`, `passwords`), the Conektor API process (`api_process`), the `.env` it writes
  (`env_file`), the Dagster instance it writes (`dagster_instance`, with `run_launcher`), all
  put together by `stack.LocalStack` and driven by `cli`;
- `run_all`: the `make run` driver; `bootstrap`: the Compose deployment's one-shot bootstrap;
- `dagster_storage`: the pooled event-log storage named by the local and Compose dagster.yaml.
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


class StackError(RuntimeError):
    """The local stack could not be brought to the requested state."""
