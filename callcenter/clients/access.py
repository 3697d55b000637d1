"""Who may see and change which clients.

Managers: the companies they are responsible for and those shared with them.
Supervisors: their own, their team's (managers whose ``supervisor_id`` is them),
shared ones and unassigned ones (so they can hand them out). Head and admins: all.
A private client (a contact without a company) follows its own ``responsible_id``.
Merged-away records are never listed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from callcenter.clients.models import ClientShare, Company, Contact
from callcenter.users.models import Role, User
from callcenter.users.service import UserView


def _team(user: UserView) -> Any:
    return select(User.id).where(or_(User.id == user.id, User.supervisor_id == user.id))


def sees_everything(user: UserView) -> bool:
    return user.role in (Role.HEAD, Role.ADMIN)


def visible_companies(user: UserView) -> Any:
    """SQL condition on ``Company``: visible to this user and not merged away."""
    alive = Company.merged_into_id.is_(None)
    if sees_everything(user):
        return alive
    shared = Company.id.in_(
        select(ClientShare.company_id).where(ClientShare.user_id == user.id)
    )
    if user.role is Role.SUPERVISOR:
        scope = or_(
            Company.responsible_id.in_(_team(user)),
            Company.responsible_id.is_(None),
            shared,
        )
    else:
        scope = or_(Company.responsible_id == user.id, shared)
    return alive & scope


def visible_contacts(user: UserView) -> Any:
    """SQL condition on ``Contact``: through its company, or its own responsible."""
    alive = Contact.merged_into_id.is_(None)
    if sees_everything(user):
        return alive
    through_company = Contact.company_id.in_(
        select(Company.id).where(visible_companies(user))
    )
    if user.role is Role.SUPERVISOR:
        own = or_(
            Contact.responsible_id.in_(_team(user)), Contact.responsible_id.is_(None)
        )
    else:
        own = Contact.responsible_id == user.id
    private = Contact.company_id.is_(None) & own
    return alive & or_(through_company, private)
