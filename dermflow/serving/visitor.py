"""Who is asking: a signed-in account (session cookie or API token), or nobody.

    visitor = visitor_of(request)        # Visitor, or None: set by security.SecurityMiddleware
    visitor.may_record_verdicts, visitor.may_manage, visitor.csrf_token

On loopback nobody may read and upload; recording a verdict always needs a signed-in reviewer.
"""
from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection

SCOPE_KEY = "dermflow_visitor"
SESSION_COOKIE = "dermflow_session"
ROLES_RECORDING = frozenset({"reviewer", "admin"})


@dataclass(frozen=True)
class Visitor:
    name: str
    role: str  # viewer | reviewer | admin
    via: str  # "session" (a browser: forms need the CSRF token) or "api_token"
    csrf_token: str = ""  # the session's; empty for an API token

    @property
    def may_record_verdicts(self) -> bool:
        return self.role in ROLES_RECORDING

    @property
    def may_manage(self) -> bool:
        return self.role == "admin"


def visitor_of(request: HTTPConnection) -> Visitor | None:
    return request.scope.get(SCOPE_KEY)
