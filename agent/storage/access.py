"""Who may see and change a kept session: the one access rule, shared by the store and the web layer.

A learner sees and changes only their own sessions. Faculty see everyone's (to review and
debrief) but change only their own: rename, share, delete and resume stay with the author.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Role = Literal["learner", "faculty"]
ROLES: tuple[Role, ...] = get_args(Role)


@dataclass(frozen=True)
class Requester:
    """The person asking: a login name and the role it has now."""

    identifier: str
    role: Role


class AccessDenied(PermissionError):
    """The requester may not read or change this session."""


def can_view(requester: Requester, owner: str) -> bool:
    return requester.identifier == owner or requester.role == "faculty"


def can_change(requester: Requester, owner: str) -> bool:
    return requester.identifier == owner
