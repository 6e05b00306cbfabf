"""The local launcher behind `./run`: databases, the Airflow components under a supervisor, the CLI.

Modules: `supervisor` (child processes: restart with backoff, stop whole sessions), `embedded` (the
embedded PostgreSQL, taken over or recovered after a crash), `secrets` (0600 files under
.newsflow/), `airflow_setup` (migrate Airflow's database and create the pool, run in a child),
`rest` (the api-server's REST API), `stack` (the deployment: environment and components),
`container_init` (what docker-compose's init service runs) and `cli` (`python -m pipeline.launcher`).
None of them imports Airflow in the launcher's own process.
"""
