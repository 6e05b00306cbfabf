"""Airflow's notifier mechanism for newsflow alerts: failure callbacks that send once, success ones that clear.

    from pipeline.airflow_notify import AlertNotifier, ClearAlerts

    @dag(..., on_failure_callback=AlertNotifier("run_failed"), on_success_callback=ClearAlerts())

AlertNotifier makes one decision per (DAG id, condition) through the alerts table (no storm while a
DAG keeps failing), then sends through every configured channel (pipeline.notify.deliver): the
webhook, and mail through the SMTP provider's SmtpNotifier when NEWSFLOW_ALERT_EMAIL is set.
This module imports Airflow; pipeline.notify does not.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from airflow.sdk import BaseNotifier

from pipeline import notify

log = logging.getLogger(__name__)


def alert_from_context(
    context: Mapping[str, Any], condition: str, summary: str | None = None
) -> notify.Alert:
    """The alert for a task or DAG-run callback (task callbacks carry `ti` and `exception`, DAG ones `reason`)."""
    dag_run = context.get("dag_run")
    ti = context.get("ti") or context.get("task_instance")
    dag = context.get("dag")
    dag_id = (
        getattr(dag_run, "dag_id", None)
        or getattr(dag, "dag_id", None)
        or getattr(ti, "dag_id", None)
        or "newsflow"
    )
    task_id = getattr(ti, "task_id", None)
    exc = context.get("exception")
    reason = context.get("reason")
    what = f"task {task_id}" if task_id else "DAG run"
    state = condition.removeprefix("run_")
    cause = f"{type(exc).__name__}: {exc}" if isinstance(exc, BaseException) else (str(exc or reason or ""))
    details = {
        "dag_id": dag_id,
        "run_id": getattr(dag_run, "run_id", None) or getattr(ti, "run_id", None),
        "task_id": task_id,
        "try_number": getattr(ti, "try_number", None),
        "data_interval_start": getattr(dag_run, "data_interval_start", None),
        "data_interval_end": getattr(dag_run, "data_interval_end", None),
        "error": cause[:500] or None,
        "log_url": getattr(ti, "log_url", None),
    }
    return notify.Alert(
        source=str(dag_id),
        condition=condition,
        summary=summary or f"{what} of {dag_id} {state}" + (f": {cause[:200]}" if cause else ""),
        details=details,
    )


class AlertNotifier(BaseNotifier):
    """Send a newsflow alert for a DAG or task callback: once per (DAG id, condition) until cleared.

    condition: 'run_failed' (the default), 'run_degraded', ... . summary: a Jinja template rendered
    with the callback's context; default: what failed and why. dedup=False sends every time.
    """

    template_fields = ("summary",)

    def __init__(
        self, condition: str = "run_failed", summary: str | None = None, *, dedup: bool = True
    ) -> None:
        super().__init__()
        self.condition = condition
        self.summary = summary
        self.dedup = dedup

    def notify(self, context: Any) -> None:
        alert = alert_from_context(context, self.condition, self.summary)
        if self.dedup:
            notify.raise_alert(alert)
        else:
            notify.deliver(alert)


class ClearAlerts(BaseNotifier):
    """For on_success_callback: the DAG's run alerts are over, so its next failure alerts again."""

    def __init__(self, conditions: Iterable[str] = ("run_failed", "run_degraded")) -> None:
        super().__init__()
        self.conditions = tuple(conditions)

    def notify(self, context: Any) -> None:
        source = alert_from_context(context, "cleared").source
        for condition in self.conditions:
            if notify.clear_alert(source, condition):
                log.info("alert %s/%s cleared", source, condition)

