"""The way up to the platform: a one-method Protocol and its HTTP implementation."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

import httpx
import orjson

from iplus.access.edge.model import OutboxMessage
from iplus.core.errors import IplusError

log = logging.getLogger("iplus.edge.uplink")
TELEMETRY_PATH = "/api/v1/telemetry"


class UplinkError(IplusError):
    """The platform did not take a batch."""


class RetryableUplinkError(UplinkError):
    """Try the same batch again later: the platform was unreachable, busy, or refused the key."""

    status = 503
    slug = "uplink-unavailable"
    title = "Uplink unavailable"

    def __init__(self, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class PermanentUplinkError(UplinkError):
    """Sending again cannot help: the batch (or the messages in ``rejected``) must go to the dead letters.

    ``rejected`` maps batch indexes to reasons when the platform named the culprits (it then stored
    nothing, so the rest may be sent again); empty means the whole batch. ``too_large`` asks for a
    smaller batch instead.
    """

    status = 422
    slug = "uplink-refused"
    title = "Uplink refused the batch"

    def __init__(
        self,
        detail: str,
        status_code: int,
        rejected: dict[int, str] | None = None,
        too_large: bool = False,
    ) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.rejected = rejected or {}
        self.too_large = too_large


class Uplink(Protocol):
    """Sends one batch to the platform, or raises RetryableUplinkError or PermanentUplinkError."""

    async def send(self, messages: Sequence[OutboxMessage]) -> None:
        """Deliver ``messages``; returning means the platform answered 2xx."""
        ...


class HttpUplink:
    """``POST {base}/api/v1/telemetry`` with ``X-API-Key``, over one pooled httpx.AsyncClient."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + TELEMETRY_PATH
        self._headers = {"X-API-Key": api_key, "Content-Type": "application/json"}
        self._client = httpx.AsyncClient(timeout=timeout_s, transport=transport)
        self.stored = 0
        self.duplicates = 0

    async def send(self, messages: Sequence[OutboxMessage]) -> None:
        """Deliver ``messages``; map every failure to retryable or permanent."""
        body = orjson.dumps({"messages": [m.as_json() for m in messages]})
        try:
            resp = await self._client.post(self.url, content=body, headers=self._headers)
        except httpx.TimeoutException as exc:
            raise RetryableUplinkError(f"platform timed out: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            # connection refused or reset, or an answer lost mid-way: the batch may have been
            # stored, which is why it is resent with the same msg ids for the platform to de-duplicate
            raise RetryableUplinkError(f"platform unreachable: {exc or type(exc).__name__}") from exc
        code = resp.status_code
        if 200 <= code < 300:
            self._count(resp)
            return
        if code in (408, 429) or code >= 500:
            raise RetryableUplinkError(f"platform answered {code}", _retry_after(resp))
        if code in (401, 403):
            # a wrong key is a configuration fault, not bad data: keep the queue and retry
            raise RetryableUplinkError(f"platform refused the API key ({code}): check the key's write scope")
        if code == 413:
            raise PermanentUplinkError("platform: batch too large", code, too_large=True)
        raise PermanentUplinkError(
            f"platform refused the batch ({code}): {_detail(resp)}", code, _rejected(resp)
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    def _count(self, resp: httpx.Response) -> None:
        try:
            doc = resp.json()
            stored, dups = int(doc.get("stored", 0)), int(doc.get("duplicates", 0))
        except (ValueError, AttributeError, TypeError):
            return  # the 2xx is what counts; the tally is only for the log
        self.stored += stored
        self.duplicates += dups
        if dups:
            log.info("platform already had %d of the batch (an earlier answer was lost)", dups)


def _retry_after(resp: httpx.Response) -> float | None:
    try:
        return max(0.0, float(resp.headers.get("Retry-After", "")))
    except ValueError:
        return None  # an HTTP date: the back-off decides


def _json(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def _detail(resp: httpx.Response) -> str:
    doc = _json(resp)
    if isinstance(doc, dict) and isinstance(doc.get("detail"), str):
        return str(doc["detail"])[:200]
    return resp.text[:200] or resp.reason_phrase


def _rejected(resp: httpx.Response) -> dict[int, str]:
    """Index -> reasons from a 422 problem's ``errors``; empty when the answer names no culprits."""
    doc = _json(resp)
    errors = doc.get("errors") if isinstance(doc, dict) else None
    out: dict[int, str] = {}
    if resp.status_code != 422 or not isinstance(errors, list):
        return out
    for err in errors:
        if isinstance(err, dict) and isinstance(err.get("index"), int):
            reasons = err.get("reasons")
            text = "; ".join(map(str, reasons)) if isinstance(reasons, list) else str(reasons or "refused")
            out[err["index"]] = text
    return out
