"""Who is using the console, and what they may do.

The console signs in with an API key, and the key itself is the session: it is kept in a cookie
the page's scripts cannot read (``HttpOnly``), that no other site's page can make the browser send
(``SameSite=Strict``), that travels only to ``/console`` and, when the console is served over
HTTPS, only over HTTPS (``Secure``). Each request resolves the key again through the key service,
so a revoked or expired key ends its sessions at once, in every process, with no session store
on the server and nothing to keep in step between processes. The live view's WebSocket is signed
in by the same cookie, so the page's script never holds the key.

Forms post a CSRF token that must equal a second cookie (double submit): another site can
neither read that cookie nor, with ``SameSite=Strict``, make the browser send it.

With authentication off (no admin key and no key: the server listens on loopback only), the
console is open, as the API is, and every page says so.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from starlette.requests import HTTPConnection
from starlette.responses import Response

from pliers.api.auth import act_as
from pliers.errors import Forbidden, StaleForm, Unauthorized
from pliers.keys.model import LOCAL, Principal
from pliers.runtime import Runtime

SESSION_COOKIE = "pliers_session"
CSRF_COOKIE = "pliers_csrf"
CSRF_FIELD = "csrf"
COOKIE_PATH = "/console"
_TOKEN_LENGTH = 43  # secrets.token_urlsafe(32)
#: The longest key the sign-in form takes (keys and the admin key are far shorter).
MAX_KEY = 512


@dataclass(frozen=True, slots=True)
class Viewer:
    principal: Principal
    #: False with authentication off: nobody signs in
    signed_in: bool

    @property
    def actor(self) -> str:
        return self.principal.actor

    def may(self, scope: str) -> bool:
        return self.principal.may(scope)

    def require(self, scope: str) -> None:
        if not self.principal.may(scope):
            raise Forbidden(f"this key lacks the scope {scope!r}")


async def authentication_on(rt: Runtime) -> bool:
    return await rt.keys.enabled()


async def resolve(rt: Runtime, secret: str) -> Viewer | None:
    """The viewer a key signs in as; None for an unknown, revoked or expired key."""
    if not secret or len(secret) > MAX_KEY:
        return None
    found = await rt.keys.resolve(secret)
    return Viewer(found, signed_in=True) if found is not None else None


async def viewer_of(conn: HTTPConnection) -> Viewer:
    """The viewer of a console request (or :class:`Unauthorized`), acting for the request.

    Events the request writes (a notification queued again) record the viewer's key as their
    actor, and the API's routes it calls (the live stream) check the viewer's scopes, as they
    would for the key sent in a header.
    """
    rt: Runtime = conn.app.state.runtime
    viewer: Viewer | None
    if not await authentication_on(rt):
        viewer = Viewer(LOCAL, signed_in=False)
    else:
        secret = conn.cookies.get(SESSION_COOKIE)
        viewer = await resolve(rt, secret) if secret else None
    if viewer is None:
        raise Unauthorized("sign in with an API key to use the console")
    act_as(viewer.principal)
    return viewer


def csrf_token(conn: HTTPConnection) -> str:
    """The token this browser's console forms carry (a new one when it has none yet)."""
    token = conn.cookies.get(CSRF_COOKIE)
    if token is None or len(token) != _TOKEN_LENGTH:
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
