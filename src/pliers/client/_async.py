"""``AsyncPliers``: the HTTP API as Python calls, on httpx, with typed results and errors."""

from __future__ import annotations

import email.utils
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, TypeVar

import httpx
import stamina
from pydantic import BaseModel

from pliers import __version__
from pliers.api import schemas
from pliers.client.errors import PliersAPIError, RateLimited, ServiceUnavailable, error_for
from pliers.client.stream import EventStream

Model = TypeVar("Model", bound=BaseModel)
Page = TypeVar("Page", schemas.FormPage, schemas.SubmissionPage)

DEFAULT_URL = "http://127.0.0.1:8000"
#: Answers worth sending again: the server is briefly unable (503) or asks to slow down (429).
RETRY_STATUSES = frozenset({429, 503})
#: The longest ``Retry-After`` the client waits for; a longer one ends the retries.
MAX_RETRY_AFTER = 60.0


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (a number or an HTTP date), or None."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _should_retry(exc: Exception) -> bool | float:
    """stamina's backoff hook: retry 429/503 (waiting ``Retry-After`` when the server gives one)
    and connections that failed before the request was sent."""
    if isinstance(exc, RateLimited | ServiceUnavailable):
        if exc.retry_after is None:
            return True
        return exc.retry_after if exc.retry_after <= MAX_RETRY_AFTER else False
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)


class AsyncPliers:
    """A client of one Pliers server.

    ``api_key`` is sent as ``Authorization: Bearer``. Answers of 429 and 503, and connections
    refused, are retried up to ``attempts`` times within ``retry_timeout`` seconds (honouring
    ``Retry-After``); every other error is raised at once as a
    :class:`~pliers.client.errors.PliersAPIError` subclass.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        attempts: int = 5,
        retry_timeout: float = 60.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        headers = {"user-agent": f"pliers-client/{__version__}"}
        if api_key is not None:
            headers["authorization"] = f"Bearer {api_key}"
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.attempts = attempts
        self.retry_timeout = retry_timeout
        self._http = http or httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=timeout
        )
        self.events = Events(self)
        self.forms = Forms(self)
        self.submissions = Submissions(self)
        self.notifications = Notifications(self)
        self.keys = Keys(self)

    async def __aenter__(self) -> AsyncPliers:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request (again on 429/503, same body and headers); raise on an error answer."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        async for attempt in stamina.retry_context(
            on=_should_retry, attempts=self.attempts, timeout=self.retry_timeout
        ):
            with attempt:
                response = await self._http.request(
                    method, path, json=json, params=query, headers=headers
                )
                if response.status_code >= 400:
                    raise self._error(response)
        return response

    async def call(self, method: str, path: str, model: type[Model], **kwargs: Any) -> Model:
        """:meth:`request`, then the envelope's ``data`` as ``model``."""
        response = await self.request(method, path, **kwargs)
        return model.model_validate(response.json()["data"])

    @staticmethod
    def _error(response: httpx.Response) -> PliersAPIError:
        try:
            body = response.json()
        except ValueError:
            body = None
        error = error_for(response.status_code, body)
        error.retry_after = _retry_after(response)
        return error


class _Resource:
    def __init__(self, client: AsyncPliers) -> None:
        self._client = client

    async def _pages(self, path: str, model: type[Page], **params: Any) -> AsyncIterator[Page]:
        """Every page of ``GET path``, each asked for with the ``nextCursor`` of the one before."""
        cursor: str | None = None
        while True:
            page = await self._client.call("GET", path, model, params={**params, "cursor": cursor})
            yield page
            if not page.has_more or page.next_cursor is None:
                return
            cursor = page.next_cursor


def _wire(value: Mapping[str, Any] | BaseModel) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return dict(value)


class Events(_Resource):
    async def publish(self, event: Mapping[str, Any]) -> schemas.PublishResult:
        """Append one event (wire form: ``type``, ``aggregateId``, ``payload``, ...)."""
        return await self._client.call(
            "POST", "/v1/events/events", schemas.PublishResult, json={"event": dict(event)}
        )

    async def batch(self, events: Sequence[Mapping[str, Any]]) -> schemas.BatchResult:
        """Append up to 1,000 events atomically."""
        body = {"events": [dict(e) for e in events]}
        return await self._client.call(
            "POST", "/v1/events/events/batch", schemas.BatchResult, json=body
        )

    async def aggregate(
        self,
        aggregate_id: str,
        *,
        from_sequence: int | None = None,
        to_sequence: int | None = None,
        limit: int | None = None,
    ) -> list[schemas.StoredEvent]:
        """An aggregate's events in sequence order."""
        found = await self._client.call(
            "GET",
            f"/v1/events/events/aggregates/{aggregate_id}",
            schemas.AggregateEvents,
            params={"fromSequence": from_sequence, "toSequence": to_sequence, "limit": limit},
        )
        return found.events

    async def query_page(self, **query: Any) -> schemas.EventPage:
        """One page of a query; filters in wire form (``eventTypes``, ``cursor``, ``limit``...)."""
        return await self._client.call(
            "POST", "/v1/events/events/query", schemas.EventPage, json={"query": query}
        )

    async def query(self, **query: Any) -> AsyncIterator[schemas.StoredEvent]:
        """Every event matching the filters, in position order, page after page."""
        while True:
            page = await self.query_page(**query)
            for event in page.events:
                yield event
            if not page.has_more or page.next_cursor is None:
                return
            query = {**query, "cursor": page.next_cursor}

    def stream(
        self,
        filter: Mapping[str, Sequence[str]] | None = None,  # the protocol's name
        *,
        from_position: int | None = None,
    ) -> EventStream:
        """Stored events as they commit, reconnecting after a drop or a restart of the server and
        resuming after the last event it yielded: no gap, no duplicate.

        ``from_position`` first yields the stored events after it (``0``: all of them); without
        it the stream starts with the events stored from now on.
        """
        return EventStream(
            self._client.base_url,
            api_key=self._client.api_key,
            filter=filter,
            from_position=from_position,
        )


class Forms(_Resource):
    async def create(self, definition: Mapping[str, Any] | BaseModel) -> schemas.Form:
        return await self._client.call(
            "POST", "/v1/forms/forms", schemas.Form, json=_wire(definition)
        )

    async def get(self, form_id: str, *, version: int | None = None) -> schemas.Form:
        return await self._client.call(
            "GET", f"/v1/forms/forms/{form_id}", schemas.Form, params={"version": version}
        )

    async def update(
        self,
        form_id: str,
        definition: Mapping[str, Any] | BaseModel,
        *,
        expected_version: int | None = None,
    ) -> schemas.Form:
        body = _wire(definition)
        if expected_version is not None:
            body["expectedVersion"] = expected_version
        return await self._client.call("PUT", f"/v1/forms/forms/{form_id}", schemas.Form, json=body)

    async def archive(self, form_id: str) -> schemas.Form:
        return await self._client.call("DELETE", f"/v1/forms/forms/{form_id}", schemas.Form)

    async def list(
        self, *, status: str | None = None, page_size: int = 50
    ) -> AsyncIterator[schemas.Form]:
        """Every form in creation order, page after page."""
        pages = self._pages("/v1/forms/forms", schemas.FormPage, status=status, limit=page_size)
        async for page in pages:
            for form in page.forms:
                yield form

    async def export_csv(self, form_id: str) -> str:
        response = await self._client.request("GET", f"/v1/forms/forms/{form_id}/submissions.csv")
        return response.text


class Submissions(_Resource):
    async def create(
        self,
        form_id: str,
        data: Mapping[str, Any],
        *,
        submitted_by: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> schemas.Submission:
        """Submit ``data``. Every retry of this call carries the same ``Idempotency-Key`` (made
        here when not given), so a retried submission is stored once."""
        body: dict[str, Any] = {"formId": form_id, "data": dict(data)}
        if submitted_by is not None:
            body["submittedBy"] = submitted_by
        if metadata is not None:
            body["metadata"] = dict(metadata)
        key = idempotency_key or str(uuid.uuid4())
        return await self._client.call(
            "POST",
            "/v1/submissions/submissions",
            schemas.Submission,
            json=body,
            headers={"Idempotency-Key": key},
        )

    async def get(self, submission_id: str) -> schemas.Submission:
        return await self._client.call(
            "GET", f"/v1/submissions/submissions/{submission_id}", schemas.Submission
        )

    async def list(
        self, *, form_id: str | None = None, page_size: int = 50
    ) -> AsyncIterator[schemas.Submission]:
        """Every submission (of one form, or all) in creation order, page after page."""
        path, model = "/v1/submissions/submissions", schemas.SubmissionPage
        async for page in self._pages(path, model, formId=form_id, limit=page_size):
            for submission in page.submissions:
                yield submission


class Notifications(_Resource):
    async def list(
        self,
        *,
        submission_id: str | None = None,
        form_id: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[schemas.Notification]:
        found = await self._client.call(
            "GET",
            "/v1/notifications",
            schemas.NotificationList,
            params={
                "submissionId": submission_id,
                "formId": form_id,
                "status": status,
                "limit": limit,
            },
        )
        return found.notifications

    async def get(self, notification_id: str) -> schemas.Notification:
        return await self._client.call(
            "GET", f"/v1/notifications/{notification_id}", schemas.Notification
        )

    async def retry(self, notification_id: str) -> schemas.Notification:
        return await self._client.call(
            "POST", f"/v1/notifications/{notification_id}/retry", schemas.Notification
        )


class Keys(_Resource):
    async def create(
        self, name: str, scopes: Sequence[str], *, expires_at: str | None = None
    ) -> schemas.ApiKey:
        """A new key; its secret (``.key``) is in this answer only."""
        body: dict[str, Any] = {"name": name, "scopes": list(scopes)}
        if expires_at is not None:
            body["expiresAt"] = expires_at
        return await self._client.call("POST", "/v1/keys", schemas.ApiKey, json=body)

    async def list(self) -> list[schemas.ApiKey]:
        response = await self._client.request("GET", "/v1/keys")
        data = response.json()["data"]
        listed = data["keys"] if isinstance(data, dict) else data
        return [schemas.ApiKey.model_validate(k) for k in listed]

    async def revoke(self, key_id: str) -> schemas.ApiKey:
        """Revoke a key at once, in every server process."""
        return await self._client.call("DELETE", f"/v1/keys/{key_id}", schemas.ApiKey)
