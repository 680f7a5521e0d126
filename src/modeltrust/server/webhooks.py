"""Webhooks: verdicts and decisions announced to other systems (a chat, a ticket queue, CI).

An event is stored first (one delivery row per webhook it concerns, in the database), then sent
by a background thread: a JSON ``POST`` signed with the webhook's secret. The receiver checks

    X-Modeltrust-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>

(and that ``t`` is recent, against replays). A delivery that fails (no answer, or not 2xx) is
retried with growing pauses (2, 4, 8 … seconds, at most :data:`MAX_ATTEMPTS` attempts). Several
servers may share the database: a delivery is claimed (its next attempt moved :data:`LEASE_S`
ahead by a compare-and-set) before it is sent, so only one server sends it, and a server that
dies while sending leaves it to be sent again after the lease.

Events: ``audit.verdict`` (an audit was recorded), ``revision.approve``, ``revision.deny``,
``exception.grant``, ``policy.review-settings``, ``repo.push``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
from sqlalchemy import or_, select, update

from modeltrust import __version__
from modeltrust.errors import InvalidRequestError
from modeltrust.server.settings import Settings
from modeltrust.storage.catalog import Catalog
from modeltrust.storage.models import DeliveryRow, WebhookRow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
LEASE_S = 60.0
_BATCH = 20


@dataclass(frozen=True, slots=True)
class Webhook:
    id: int
    namespace: str | None
    url: str
    events: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    webhook_id: int
    event: str
    status: str
    attempts: int
    last_error: str


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Modeltrust-Signature`` header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(secret: str, header: str, body: bytes, *, tolerance_s: float = 300) -> bool:
    """What a receiver does: the signature matches and is at most ``tolerance_s`` old."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)


class Webhooks:
    def __init__(self, catalog: Catalog, settings: Settings) -> None:
        self.catalog = catalog
        self.timeout = settings.webhook_timeout
        self.retry_base = settings.webhook_retry_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # --- configuration --------------------------------------------------------------------------

    def add(
        self, url: str, secret: str, *, namespace: str | None = None, events: str = "*"
    ) -> Webhook:
        if not url.startswith(("http://", "https://")):
            raise InvalidRequestError(f"'{url}' is not an http(s) URL; a webhook needs one.")
        if len(secret) < 16:
            raise InvalidRequestError(
                "A webhook secret needs at least 16 characters (the receiver checks signatures "
                "with it); generate one, e.g. 'python -c \"import secrets; print(secrets.token_hex(32))\"'."
            )
        with self.catalog.transaction() as s:
            row = WebhookRow(
                namespace=namespace.lower() if namespace else None,
                url=url,
                secret=secret,
                events=events or "*",
            )
            s.add(row)
            s.flush()
            return _webhook(row)

    def remove(self, webhook_id: int) -> None:
        with self.catalog.transaction() as s:
            row = s.get(WebhookRow, webhook_id)
            if row is None:
                raise InvalidRequestError(f"There is no webhook {webhook_id}.", status=404)
            s.delete(row)

    def all(self) -> list[Webhook]:
        with self.catalog.transaction() as s:
            return [_webhook(r) for r in s.scalars(select(WebhookRow).order_by(WebhookRow.id))]

    def deliveries(self, webhook_id: int | None = None) -> list[Delivery]:
        with self.catalog.transaction() as s:
            query = select(DeliveryRow).order_by(DeliveryRow.id)
            if webhook_id is not None:
                query = query.where(DeliveryRow.webhook_pk == webhook_id)
            return [
                Delivery(r.id, r.webhook_pk, r.event, r.status, r.attempts, r.last_error)
                for r in s.scalars(query)
            ]

    # --- events ---------------------------------------------------------------------------------

    def announce(self, event: str, namespace: str | None, payload: dict[str, Any]) -> int:
        """Queue ``payload`` for every webhook that wants ``event`` in ``namespace``; returns
        how many deliveries were queued."""
        body = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        with self.catalog.transaction() as s:
            query = select(WebhookRow)
            if namespace:
                query = query.where(
                    or_(WebhookRow.namespace.is_(None), WebhookRow.namespace == namespace.lower())
                )
            else:
                query = query.where(WebhookRow.namespace.is_(None))
            hooks = [h for h in s.scalars(query) if _wants(h.events, event)]
            for hook in hooks:
                s.add(DeliveryRow(webhook_pk=hook.id, event=event, body=body, status="pending"))
        if hooks:
            self._start()
            self._wake.set()
        return len(hooks)

    def resume(self) -> None:
        """Start sending if any webhook exists: deliveries left pending by a restart, and those
        a stopped server had claimed, once their lease ends."""
        if self.all():
            self._start()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=self.timeout + 1)

    # --- sending --------------------------------------------------------------------------------

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        with httpx2.Client(timeout=self.timeout, follow_redirects=False) as client:
            while not self._stop.is_set():
                try:
                    busy = self.send_due(client)
                except Exception:  # the database is away: try again later
                    log.exception("webhook deliveries could not be read")
                    busy = False
                if not busy:
                    self._wake.wait(timeout=1.0)
                    self._wake.clear()

    def send_due(self, client: httpx2.Client) -> bool:
        """Send the deliveries that are due (claimed first); True if any was."""
        now = datetime.now(UTC)
        with self.catalog.transaction() as s:
            due = s.execute(
                select(DeliveryRow.id, DeliveryRow.next_at)
                .where(DeliveryRow.status == "pending", DeliveryRow.next_at <= now)
                .order_by(DeliveryRow.next_at)
                .limit(_BATCH)
            ).all()
        sent = False
        for delivery_id, next_at in due:
            if self._stop.is_set():
                break
            claimed = self._claim(delivery_id, next_at)
            if claimed is not None:
                self._send(client, *claimed)
                sent = True
        return sent

    def _claim(self, delivery_id: int, next_at: datetime) -> tuple[DeliveryRow, WebhookRow] | None:
        lease = datetime.now(UTC) + timedelta(seconds=LEASE_S)
        with self.catalog.transaction() as s:
            moved = s.execute(
                update(DeliveryRow)
                .where(DeliveryRow.id == delivery_id, DeliveryRow.next_at == next_at)
                .values(next_at=lease)
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                return None  # another server took it
            row = s.get(DeliveryRow, delivery_id)
            hook = s.get(WebhookRow, row.webhook_pk) if row is not None else None
            if row is None or hook is None:
                return None
            s.expunge(row)
            s.expunge(hook)
            return row, hook

    def _send(self, client: httpx2.Client, row: DeliveryRow, hook: WebhookRow) -> None:
        body = row.body.encode()
        headers = {
            "content-type": "application/json",
            "user-agent": f"modeltrust/{__version__} webhooks",
            "x-modeltrust-event": row.event,
            "x-modeltrust-delivery": str(row.id),
            "x-modeltrust-signature": sign(hook.secret, int(time.time()), body),
        }
        error = ""
        try:
            answer = client.post(hook.url, content=body, headers=headers)
            if not 200 <= answer.status_code < 300:
                error = f"answered {answer.status_code}"
        except httpx2.HTTPError as e:
            error = f"{type(e).__name__}: {e}"
        attempts = row.attempts + 1
        with self.catalog.transaction() as s:
            current = s.get(DeliveryRow, row.id)
            if current is None:
                return
            current.attempts = attempts
            current.last_error = error
            if not error:
                current.status = "delivered"
            elif attempts >= MAX_ATTEMPTS:
                current.status = "failed"
                log.warning("webhook %s gave up on delivery %s: %s", hook.url, row.id, error)
            else:
                pause = self.retry_base * 2 ** (attempts - 1)
                current.next_at = datetime.now(UTC) + timedelta(seconds=pause)


def _wants(events: str, event: str) -> bool:
    wanted = {e.strip() for e in events.split(",") if e.strip()}
    return "*" in wanted or event in wanted


def _webhook(row: WebhookRow) -> Webhook:
    return Webhook(
        row.id, row.namespace, row.url, tuple(e.strip() for e in row.events.split(",") if e)
    )
