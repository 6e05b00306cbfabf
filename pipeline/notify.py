"""Alerts: the message, the JSON each chat webhook accepts, and sending it once per source and condition.

Configured by environment:
- NEWSFLOW_ALERT_WEBHOOK_URL: an incoming-webhook URL (Slack, 企业微信, 飞书, 钉钉, or any JSON receiver);
- NEWSFLOW_ALERT_WEBHOOK_FORMAT: slack | wecom | feishu | dingtalk | json (default json);
- NEWSFLOW_ALERT_EMAIL (comma-separated) and NEWSFLOW_ALERT_EMAIL_FROM: mail through Airflow's
  SmtpNotifier and the `smtp_default` connection (AIRFLOW_CONN_SMTP_DEFAULT); needs the airflow extra.

No Airflow import at module level: tasks, the CLI and tests use this without Airflow; the Airflow
notifier classes live in pipeline.airflow_notify.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import requests

from pipeline.errors import ConfigError, NotifyError

log = logging.getLogger(__name__)

WEBHOOK_FORMATS = ("slack", "wecom", "feishu", "dingtalk", "json")
# 企业微信 and 钉钉 cap a text message at about 2 KB of UTF-8; 飞书 and Slack allow more. One limit for all.
MAX_TEXT_BYTES = 2000


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _plain(value: Any) -> Any:
    """JSON-safe copy of a detail value (times as ISO 8601 UTC, intervals as seconds)."""
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, Decimal):  # numeric columns of source_health
        return float(value)
    if hasattr(value, "total_seconds"):
        return round(value.total_seconds(), 1)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


@dataclasses.dataclass(frozen=True)
class Alert:
    """One alert: (source, condition) is its dedup key; summary is the one line a person reads first."""

    source: str
    condition: str
    summary: str
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    at: datetime = dataclasses.field(default_factory=lambda: datetime.now(UTC))

    def text(self) -> str:
        """Plain text for chat: a header line, the summary, then one `key: value` line per detail."""
        lines = [f"[newsflow] {self.condition}: {self.source}", self.summary]
        lines += [f"{k}: {v}" for k, v in _plain(dict(self.details)).items() if v not in (None, "")]
        lines.append(f"at: {_iso(self.at)}")
        text = "\n".join(lines)
        raw = text.encode("utf-8")
        if len(raw) > MAX_TEXT_BYTES:
            text = raw[: MAX_TEXT_BYTES - 3].decode("utf-8", "ignore") + "..."
        return text

    def as_json(self) -> dict[str, Any]:
        """The alert as data: stored in alerts.payload and posted as is by the `json` format."""
        return {
            "source": self.source,
            "condition": self.condition,
            "summary": self.summary,
            "details": _plain(dict(self.details)),
            "at": _iso(self.at),
            "text": self.text(),
        }


def webhook_body(alert: Alert, fmt: str) -> dict[str, Any]:
    """The JSON body the service's incoming webhook accepts as a text message."""
    text = alert.text()
    if fmt == "slack":
        return {"text": text}
    if fmt in ("wecom", "dingtalk"):  # 企业微信 群机器人 and 钉钉 自定义机器人 share this shape
        return {"msgtype": "text", "text": {"content": text}}
    if fmt == "feishu":  # 飞书 自定义机器人
        return {"msg_type": "text", "content": {"text": text}}
    if fmt == "json":
        return alert.as_json()
    raise ConfigError(f"unknown alert webhook format {fmt!r} (one of {', '.join(WEBHOOK_FORMATS)})")


@dataclasses.dataclass(frozen=True)
class WebhookSettings:
    url: str
    format: str = "json"
    connect_timeout: float = 5.0
    read_timeout: float = 10.0

    @classmethod
    def from_env(cls) -> WebhookSettings | None:
        """From NEWSFLOW_ALERT_WEBHOOK_URL / _FORMAT; None when no URL is set."""
        url = os.environ.get("NEWSFLOW_ALERT_WEBHOOK_URL", "").strip()
        if not url:
            return None
        if not url.startswith(("https://", "http://")):
            raise ConfigError("NEWSFLOW_ALERT_WEBHOOK_URL must be an http(s) URL")
        fmt = os.environ.get("NEWSFLOW_ALERT_WEBHOOK_FORMAT", "json").strip().lower() or "json"
        if fmt not in WEBHOOK_FORMATS:
            raise ConfigError(
                f"NEWSFLOW_ALERT_WEBHOOK_FORMAT={fmt!r}: use one of {', '.join(WEBHOOK_FORMATS)}"
            )
        return cls(url=url, format=fmt)


def post_webhook(alert: Alert, settings: WebhookSettings) -> None:
    """POST the alert; raise NotifyError unless the service accepted it.

    The chat services answer HTTP 200 with an error code in the body for a refused message (a wrong
    key, a missing 钉钉 keyword, a rate limit): `errcode` (企业微信, 钉钉) or `code` (飞书) must be 0.
    """
    try:
        resp = requests.post(
            settings.url,
            json=webhook_body(alert, settings.format),
            timeout=(settings.connect_timeout, settings.read_timeout),
        )
    except requests.RequestException as exc:
        raise NotifyError(f"alert webhook unreachable: {type(exc).__name__}") from exc
    if not 200 <= resp.status_code < 300:
        raise NotifyError(f"alert webhook answered HTTP {resp.status_code}")
    if "json" in resp.headers.get("Content-Type", ""):
        try:
            answer = resp.json()
        except ValueError:
            answer = None
        if isinstance(answer, dict):
            code = answer.get("errcode", answer.get("code", 0))
            if code not in (0, "0", None):
                reason = answer.get("errmsg") or answer.get("msg") or ""
                raise NotifyError(f"alert webhook refused the message: code {code} {reason}".rstrip())


def email_recipients() -> list[str]:
    return [a.strip() for a in os.environ.get("NEWSFLOW_ALERT_EMAIL", "").split(",") if a.strip()]


def deliver(alert: Alert) -> list[str]:
    """Send through every configured channel; return the channels that took it.

    Tries all channels before raising NotifyError for the ones that failed. With none configured
    the log is the channel (one WARNING line).
    """
    sent: list[str] = []
    errors: list[str] = []
    webhook = WebhookSettings.from_env()
    if webhook is not None:
        try:
            post_webhook(alert, webhook)
            sent.append(f"webhook:{webhook.format}")
        except NotifyError as exc:
            errors.append(str(exc))
    recipients = email_recipients()
    if recipients:
        try:
            from pipeline.airflow_mail import send_alert_mail
        except ImportError:
            errors.append("NEWSFLOW_ALERT_EMAIL is set but Airflow (the airflow extra) is not installed")
        else:
            try:
                send_alert_mail(f"[newsflow] {alert.condition}: {alert.source}", alert.text(), recipients)
                sent.append("email")
            except Exception as exc:  # smtplib, the connection lookup, templating: all mean "not sent"
                errors.append(f"alert mail not sent: {type(exc).__name__}: {exc}")
    if webhook is None and not recipients:
        log.warning("alert (no channel configured): %s", alert.text().replace("\n", " | "))
    if errors:
        raise NotifyError("; ".join(errors))
    return sent


# --- once per source and condition ---------------------------------------------------------------


def raise_alert(alert: Alert, url: str | None = None) -> bool:
    """Send the alert unless one is already open for its source and condition; True when sent.

    The claim is committed before sending (so a concurrent caller sees it and sends nothing) and
    released if delivery fails, so the next occurrence tries again. A delivery failure is logged,
    not raised: the caller's own work (a run, a health check) must not fail because chat is down.
    """
    from pipeline import db
    from pipeline.store import health

    conn = db.connect(url)
    try:
        with db.transaction(conn) as cur:
            alert_id = health.open_alert(cur, alert.source, alert.condition, alert.as_json())
        if alert_id is None:
            log.info("alert %s/%s is already open: not sent again", alert.source, alert.condition)
            return False
        try:
            channels = deliver(alert)
        except NotifyError as exc:
            log.error("alert %s/%s not delivered (retried next time): %s", alert.source, alert.condition, exc)
            with db.transaction(conn) as cur:
                health.release_alert_send(cur, alert_id)
            return False
        log.info("alert %s/%s sent via %s", alert.source, alert.condition, ", ".join(channels) or "log")
        return True
    finally:
        conn.close()


def clear_alert(source: str, condition: str, url: str | None = None) -> bool:
    """The condition is over: the next occurrence sends a new alert. True if one was open."""
    from pipeline import db
    from pipeline.store import health

    conn = db.connect(url)
    try:
        with db.transaction(conn) as cur:
            return health.clear_alert(cur, source, condition)
    finally:
        conn.close()


# --- alerts the pipeline raises ------------------------------------------------------------------


def _ago(delta_seconds: float) -> str:
    minutes = int(delta_seconds // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def health_alert(row: Mapping[str, Any], at: datetime | None = None) -> Alert:
    """The alert for a source_health row whose status is silent or low."""
    at = at or datetime.now(UTC)
    status = str(row["status"])
    last = row.get("last_item_at")
    per_hour = row.get("avg_items_per_hour")
    if status == "silent":
        quiet = f"for {_ago((at - last).total_seconds())}" if last else "ever"
        usual = f" (usually {float(per_hour):.1f} per hour)" if per_hour else ""
        summary = f"no new item {quiet}{usual}"
    else:
        summary = (
            f"{row.get('items_last_day')} items in the last day, usually {float(per_hour or 0) * 24:.0f}"
        )
    details = {
        k: row.get(k)
        for k in (
            "last_item_at", "items_last_hour", "avg_items_per_hour", "items_last_day", "avg_items_per_day",
            "open_dead_letters", "open_gaps", "last_good_run_id",
        )
    }  # fmt: skip
    return Alert(source=str(row["source"]), condition=status, summary=summary, details=details, at=at)


def gap_alert(source: str, gap_from: datetime, gap_to: datetime, run_id: int | None = None) -> Alert:
    """The alert for a new coverage gap: the feed no longer lists back to the source's cursor."""
    return Alert(
        source=source,
        condition="gap",
        summary=f"items published between {_iso(gap_from)} and {_iso(gap_to)} may be missing; "
        "a backfill over that range closes the gap",
        details={"gap_from": gap_from, "gap_to": gap_to, "found_by_run": run_id},
    )


def check_sources(url: str | None = None, at: datetime | None = None) -> list[Alert]:
    """Alert on every silent or low source, clear the alerts of sources back to ok; return those sent."""
    from pipeline import db
    from pipeline.store import health

    conn = db.connect(url)
    try:
        with db.transaction(conn) as cur:
            rows = health.source_health(cur, at)
    finally:
        conn.close()
    sent: list[Alert] = []
    for row in rows:
        if row["status"] in ("silent", "low"):
            other = "low" if row["status"] == "silent" else "silent"
            clear_alert(str(row["source"]), other, url)
            alert = health_alert(row, at)
            if raise_alert(alert, url):
                sent.append(alert)
        elif row["status"] == "ok":
            for condition in ("silent", "low"):
                clear_alert(str(row["source"]), condition, url)
    return sent
