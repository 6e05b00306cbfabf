"""The Airflow notifiers (pipeline.airflow_notify) called as Airflow calls a callback: one alert per DAG and condition."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ..alert_receiver import AlertReceiver
from ..conftest import truncate_all
from ..helpers import query_rows

pytestmark = pytest.mark.airflow


@pytest.fixture()
def receiver(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[AlertReceiver]:
    truncate_all(pg_url)
    monkeypatch.setenv("NEWSFLOW_DATABASE_URL", pg_url)
    monkeypatch.delenv("NEWSFLOW_ALERT_EMAIL", raising=False)
    with AlertReceiver() as r:
        monkeypatch.setenv("NEWSFLOW_ALERT_WEBHOOK_URL", r.url)
        monkeypatch.setenv("NEWSFLOW_ALERT_WEBHOOK_FORMAT", "feishu")
        yield r


def test_failure_callback_alerts_once_until_a_success_clears_it(
    airflow_home: Path, pg_url: str, receiver: AlertReceiver
) -> None:
    from airflow.sdk import DAG

    from pipeline.airflow_notify import AlertNotifier, ClearAlerts

    dag = DAG("news_ingest_probe", schedule=None)
    on_failure = AlertNotifier("run_failed", summary="{{ dag.dag_id }} failed: {{ reason }}")
    context = {"dag": dag, "reason": "task_failure", "exception": RuntimeError("all 3 items failed")}

    on_failure(context)  # how Airflow calls a callback: templates rendered, then notify()
    on_failure(context)
    assert len(receiver.received) == 1
    text = receiver.received[0]["content"]["text"]
    assert receiver.received[0]["msg_type"] == "text"
    assert text.splitlines()[:2] == [
        "[newsflow] run_failed: news_ingest_probe",
        "news_ingest_probe failed: task_failure",
    ]
    assert "error: RuntimeError: all 3 items failed" in text

    ClearAlerts()({"dag": dag})
    assert query_rows(pg_url, "SELECT count(*) FROM alerts WHERE cleared_at IS NULL") == [(0,)]
    AlertNotifier("run_failed")(context)
    assert len(receiver.received) == 2
    assert receiver.received[1]["content"]["text"].splitlines()[1] == (
        "DAG run of news_ingest_probe failed: RuntimeError: all 3 items failed"
    )


def test_alert_mail_goes_through_airflows_smtp_notifier(
    airflow_home: Path, pg_url: str, receiver: AlertReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiosmtpd.controller import Controller

    from pipeline import notify

    mails: list[tuple[str, list[str], str]] = []

    class Collect:
        async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
            mails.append(
                (envelope.mail_from, list(envelope.rcpt_tos), envelope.content.decode("utf-8", "replace"))
            )
            return "250 OK"

    with socket.socket() as probe:  # aiosmtpd's start() checks the port it was given, so not 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = Controller(Collect(), hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        monkeypatch.setenv(
            "AIRFLOW_CONN_SMTP_DEFAULT",
            f"smtp://127.0.0.1:{port}?disable_ssl=true&disable_tls=true&from_email=newsflow%40example.org&retry_limit=1",
        )
        monkeypatch.setenv("NEWSFLOW_ALERT_EMAIL", "desk@example.org, oncall@example.org")
        alert = notify.gap_alert(
            "roll:155:1686", datetime(2024, 5, 6, 1, tzinfo=UTC), datetime(2024, 5, 6, 3, tzinfo=UTC)
        )
        assert notify.raise_alert(alert) is True
        assert notify.raise_alert(alert) is False
    finally:
        smtp.stop()
    assert len(mails) == 1 and len(receiver.received) == 1  # one decision for both channels
    sender, rcpts, content = mails[0]
    assert sender == "newsflow@example.org" and rcpts == ["desk@example.org", "oncall@example.org"]
    assert "Subject: [newsflow] gap: roll:155:1686" in content
