"""``Pliers``: the same client for code without an event loop.

It runs an :class:`AsyncPliers` on an event loop in a thread of its own (an anyio blocking
portal), so both clients share every behaviour: retries, idempotency keys, typed errors.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from anyio.from_thread import BlockingPortal, start_blocking_portal
from pydantic import BaseModel

from pliers.api import schemas
from pliers.client import _async
from pliers.client._async import DEFAULT_URL, AsyncPliers

T = TypeVar("T")


class _Bridge:
    def __init__(self, portal: BlockingPortal) -> None:
        self._portal = portal

    def run(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self._portal.call(functools.partial(function, *args, **kwargs))

    def iterate(self, items: AsyncIterator[T]) -> Iterator[T]:
        try:
            while True:
                try:
                    item: T = self._portal.call(items.__anext__)
                except StopAsyncIteration:
                    return
                yield item
        finally:
            closing = getattr(items, "aclose", None)
            if closing is not None:
                self._portal.call(closing)


class Pliers:
    """A blocking client of one Pliers server; see :class:`AsyncPliers` for the arguments."""

    def __init__(self, base_url: str = DEFAULT_URL, api_key: str | None = None, **options: Any):
        self._portal_cm: AbstractContextManager[BlockingPortal] = start_blocking_portal()
        portal = self._portal_cm.__enter__()
        self._bridge = _Bridge(portal)
        self._client: AsyncPliers = portal.call(
            functools.partial(_make, base_url, api_key, options)
        )
        self.events = Events(self._bridge, self._client.events)
        self.forms = Forms(self._bridge, self._client.forms)
        self.submissions = Submissions(self._bridge, self._client.submissions)
        self.notifications = Notifications(self._bridge, self._client.notifications)
        self.keys = Keys(self._bridge, self._client.keys)

    def __enter__(self) -> Pliers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._bridge.run(self._client.close)
        finally:
            self._portal_cm.__exit__(None, None, None)


async def _make(base_url: str, api_key: str | None, options: dict[str, Any]) -> AsyncPliers:
    return AsyncPliers(base_url, api_key, **options)


class Events:
    def __init__(self, bridge: _Bridge, events: _async.Events) -> None:
        self._bridge, self._events = bridge, events

    def publish(self, event: Mapping[str, Any]) -> schemas.PublishResult:
        result: schemas.PublishResult = self._bridge.run(self._events.publish, event)
        return result

    def batch(self, events: Sequence[Mapping[str, Any]]) -> schemas.BatchResult:
        result: schemas.BatchResult = self._bridge.run(self._events.batch, events)
        return result

    def aggregate(self, aggregate_id: str, **bounds: int | None) -> list[schemas.StoredEvent]:
        found: list[schemas.StoredEvent] = self._bridge.run(
            self._events.aggregate, aggregate_id, **bounds
        )
        return found

    def query_page(self, **query: Any) -> schemas.EventPage:
        page: schemas.EventPage = self._bridge.run(self._events.query_page, **query)
        return page

    def query(self, **query: Any) -> Iterator[schemas.StoredEvent]:
        return self._bridge.iterate(self._events.query(**query))

    def stream(
        self,
        filter: Mapping[str, Sequence[str]] | None = None,  # the protocol's name
        *,
        from_position: int | None = None,
    ) -> Iterator[schemas.StoredEvent]:
        stream = self._events.stream(filter, from_position=from_position)
        return self._bridge.iterate(stream.__aiter__())


class Forms:
    def __init__(self, bridge: _Bridge, forms: _async.Forms) -> None:
        self._bridge, self._forms = bridge, forms

    def create(self, definition: Mapping[str, Any] | BaseModel) -> schemas.Form:
        form: schemas.Form = self._bridge.run(self._forms.create, definition)
        return form

    def get(self, form_id: str, *, version: int | None = None) -> schemas.Form:
        form: schemas.Form = self._bridge.run(self._forms.get, form_id, version=version)
        return form

    def update(
        self,
        form_id: str,
        definition: Mapping[str, Any] | BaseModel,
        *,
        expected_version: int | None = None,
    ) -> schemas.Form:
        form: schemas.Form = self._bridge.run(
            self._forms.update, form_id, definition, expected_version=expected_version
        )
        return form

    def archive(self, form_id: str) -> schemas.Form:
        form: schemas.Form = self._bridge.run(self._forms.archive, form_id)
        return form

    def list(self, *, status: str | None = None, page_size: int = 50) -> Iterator[schemas.Form]:
        return self._bridge.iterate(self._forms.list(status=status, page_size=page_size))

    def export_csv(self, form_id: str) -> str:
        text: str = self._bridge.run(self._forms.export_csv, form_id)
        return text


class Submissions:
    def __init__(self, bridge: _Bridge, submissions: _async.Submissions) -> None:
        self._bridge, self._submissions = bridge, submissions

    def create(self, form_id: str, data: Mapping[str, Any], **options: Any) -> schemas.Submission:
        created: schemas.Submission = self._bridge.run(
            self._submissions.create, form_id, data, **options
        )
        return created

    def get(self, submission_id: str) -> schemas.Submission:
        found: schemas.Submission = self._bridge.run(self._submissions.get, submission_id)
        return found

    def list(
        self, *, form_id: str | None = None, page_size: int = 50
    ) -> Iterator[schemas.Submission]:
        return self._bridge.iterate(self._submissions.list(form_id=form_id, page_size=page_size))


class Notifications:
    def __init__(self, bridge: _Bridge, notifications: _async.Notifications) -> None:
        self._bridge, self._notifications = bridge, notifications

    def list(self, **filters: Any) -> list[schemas.Notification]:
        found: list[schemas.Notification] = self._bridge.run(self._notifications.list, **filters)
        return found

    def get(self, notification_id: str) -> schemas.Notification:
        found: schemas.Notification = self._bridge.run(self._notifications.get, notification_id)
        return found

    def retry(self, notification_id: str) -> schemas.Notification:
        found: schemas.Notification = self._bridge.run(self._notifications.retry, notification_id)
        return found


class Keys:
    def __init__(self, bridge: _Bridge, keys: _async.Keys) -> None:
        self._bridge, self._keys = bridge, keys

    def create(
        self, name: str, scopes: Sequence[str], *, expires_at: str | None = None
    ) -> schemas.ApiKey:
        key: schemas.ApiKey = self._bridge.run(
            self._keys.create, name, scopes, expires_at=expires_at
        )
        return key

    def list(self) -> list[schemas.ApiKey]:
        keys: list[schemas.ApiKey] = self._bridge.run(self._keys.list)
        return keys

    def revoke(self, key_id: str) -> schemas.ApiKey:
        key: schemas.ApiKey = self._bridge.run(self._keys.revoke, key_id)
        return key
