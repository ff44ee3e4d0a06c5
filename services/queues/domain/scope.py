"""Who may see what. The scope always comes from the authenticated user, never from a request."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    BILLER = "biller"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


@dataclass(frozen=True)
class Scope:
    """The practices (and optionally providers) a user's queries are limited to.

    `practices is None` means every practice of the billing company (supervisors), including lines no
    practice claimed yet. An empty tuple means nothing at all: admins manage users, practices and rules
    and see no patient data.
    """

    practices: tuple[str, ...] | None
    providers: tuple[str, ...] = ()

    @classmethod
    def for_user(cls, role: Role, practices: tuple[str, ...], providers: tuple[str, ...]) -> Scope:
        if role is Role.SUPERVISOR:
            return cls(None, ())
        if role is Role.ADMIN:
            return cls((), ())
        return cls(practices, providers)

    @property
    def everything(self) -> bool:
        return self.practices is None and not self.providers


@dataclass(frozen=True)
class Principal:
    username: str
    role: Role
    scope: Scope
