"""Who is using the console, and what they may do.

The console signs in with an API key. The key itself is the session: it is kept in a cookie the
page's scripts cannot read (``HttpOnly``), that no other site's page can make the browser send
(``SameSite=Strict``), that travels only to ``/console`` and only over HTTPS when the console is
served over HTTPS (``Secure``). Each request checks the key again, so a revoked or expired key
ends its sessions at once, in every process, with nothing stored on the server and nothing to
keep in step between processes.

Forms post a CSRF token that must equal a second cookie (double submit): another site can
neither read that cookie nor, with ``SameSite=Strict``, make the browser send it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import ClassVar

from starlette.requests import HTTPConnection
from starlette.responses import Response

from pliers.api.auth import act_as
from pliers.errors import PliersError
from pliers.keys import Principal
from pliers.runtime import Runtime

SESSION_COOKIE = "pliers_session"
CSRF_COOKIE = "pliers_csrf"
CSRF_FIELD = "csrf"
COOKIE_PATH = "/console"
#: Every scope a key can hold: what the console may do with authentication off.
ALL_SCOPES = frozenset(
    {
        "events:read",
        "events:write",
        "forms:read",
        "forms:write",
        "submissions:read",
        "submissions:write",
        "notifications:read",
        "notifications:write",
        "keys:manage",
        "metrics:read",
    }
)


class SignInRequired(PliersError):
    """No session, or its key no longer works: the console sends the browser to sign in."""

    status_code: ClassVar[int] = 401
    code: ClassVar[str] = "UNAUTHORIZED"


class NotAllowed(PliersError):
    """The signed-in key lacks the scope this page or action needs."""

    status_code: ClassVar[int] = 403
    code: ClassVar[str] = "FORBIDDEN"


class StaleForm(PliersError):
    """A console form posted without the session's CSRF token."""

    status_code: ClassVar[int] = 403
    code: ClassVar[str] = "CSRF_FAILED"


@dataclass(frozen=True, slots=True)
class Viewer:
    actor: str
    scopes: frozenset[str]
    #: False with authentication off: nobody signs in (the server is on loopback only)
    signed_in: bool

    def may(self, scope: str) -> bool:
        return scope in self.scopes

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise NotAllowed(f"this key does not have the {scope} scope")


#: The console with authentication off.
LOCAL_VIEWER = Viewer("local", ALL_SCOPES, signed_in=False)


async def authentication_on(rt: Runtime) -> bool:
    """Is a key needed? (Off: no admin key and no key exists; the server is loopback only.)"""
    return await rt.keys.enabled()


async def resolve(rt: Runtime, secret: str) -> Viewer | None:
    """The viewer a key signs in as; None for an unknown, revoked or expired key."""
    found = await rt.keys.resolve(secret)
    if found is None:
        return None
    return Viewer(found.actor, found.scopes, signed_in=True)


async def viewer_of(conn: HTTPConnection) -> Viewer:
    """The viewer of a console request, or :class:`SignInRequired`."""
    rt: Runtime = conn.app.state.runtime
    if not await authentication_on(rt):
        act_as(Principal(LOCAL_VIEWER.actor, LOCAL_VIEWER.scopes))
        return LOCAL_VIEWER
    secret = conn.cookies.get(SESSION_COOKIE)
    found = await resolve(rt, secret) if secret else None
    if found is None:
        raise SignInRequired("sign in with an API key to use the console")
    act_as(Principal(found.actor, found.scopes))  # the events it writes, the stream's scope
    return found


def csrf_token(conn: HTTPConnection) -> str:
    """The token this browser's console forms carry (a new one when it has none yet)."""
    token = conn.cookies.get(CSRF_COOKIE)
    if token is None or len(token) != 43:
        token = conn.scope.setdefault("pliers.csrf", secrets.token_urlsafe(32))
    return token


def check_csrf(conn: HTTPConnection, posted: object) -> None:
    cookie = conn.cookies.get(CSRF_COOKIE, "")
    if not cookie or not isinstance(posted, str) or not secrets.compare_digest(cookie, posted):
        raise StaleForm("this form has expired; reload the page and try again")


def keep_cookies(conn: HTTPConnection, response: Response, *, session: str | None = None) -> None:
    """Set the CSRF cookie when it is new, and the session cookie when signing in."""
    secure = conn.url.scheme in ("https", "wss")
    fresh = conn.scope.get("pliers.csrf")
    if fresh is not None:
        _set(response, CSRF_COOKIE, fresh, secure)
    if session is not None:
        _set(response, SESSION_COOKIE, session, secure)


def forget(response: Response) -> None:
    """Sign out: the browser drops the session."""
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")


def _set(response: Response, name: str, value: str, secure: bool) -> None:
    response.set_cookie(
        name, value, path=COOKIE_PATH, httponly=True, samesite="strict", secure=secure
    )
