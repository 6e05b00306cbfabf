"""Airflow's metadata database made ready, in one Airflow process: schema migrated, pool created.

Run as a child with the deployment's AIRFLOW__* environment, by `./run` before it starts the
components and by the containers' init service:

    python -m pipeline.launcher.airflow_setup [--unpause DAG_ID]

This is the one place the `sina_http` pool is created (its name, slots and description are
declared in `pipeline.airflow_glue`). The steps are Airflow's own CLI commands, run in-process so
that Airflow is imported once for all of them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from pipeline.airflow_glue import POOL_DESCRIPTION, POOL_NAME, POOL_SLOTS


def steps(unpause: str | None = None) -> list[list[str]]:
    """The `airflow` commands, in order; all of them may run again on a ready database."""
    out = [["db", "migrate"], ["pools", "set", POOL_NAME, str(POOL_SLOTS), POOL_DESCRIPTION]]
    if unpause:
        # Parse the DAG files now, so the DAG can be unpaused before any scheduler has run.
        out += [["dags", "reserialize"], ["dags", "unpause", unpause]]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pipeline.launcher.airflow_setup", description=__doc__)
    p.add_argument("--unpause", metavar="DAG_ID", help="also serialize the DAG files and unpause this DAG")
    args = p.parse_args(argv)
    # As airflow.__main__ does: the configuration module first, then the CLI parser.
    configuration = importlib.import_module("airflow.configuration")
    cli_parser = importlib.import_module("airflow.cli.cli_parser")
    configuration.write_default_airflow_configuration_if_needed()
    parser = cli_parser.get_parser()
    for step in steps(args.unpause):
        print(f"airflow {' '.join(step)}", flush=True)
        parsed = parser.parse_args(step)
        parsed.func(parsed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
