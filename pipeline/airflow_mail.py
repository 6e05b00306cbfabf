"""Alert mail through Airflow's SmtpNotifier: the one mail path, used when NEWSFLOW_ALERT_EMAIL is set.

A module of its own (it imports nothing of the pipeline), so `pipeline.notify` can reach it lazily
without an import circle through the Airflow notifier classes.
"""

from __future__ import annotations

import html
import os
from typing import Any, cast

from airflow.providers.smtp.notifications.smtp import SmtpNotifier


def send_alert_mail(subject: str, text: str, recipients: list[str]) -> None:
    """Mail one alert (connection `smtp_default`, or [email] email_conn_id).

    Subject and body are given, so nothing of the alert is rendered as a Jinja template.
    """
    notifier = SmtpNotifier(
        to=recipients,
        from_email=os.environ.get("NEWSFLOW_ALERT_EMAIL_FROM") or None,
        subject=subject,
        html_content=f"<pre>{html.escape(text)}</pre>",
    )
    notifier.notify(cast(Any, {}))
