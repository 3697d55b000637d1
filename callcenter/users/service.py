"""Creating users, checking passwords and resolving sessions and API tokens.

Passwords are hashed with Argon2id (argon2-cffi). Session cookies and API tokens are
random 32-byte values; only their SHA-256 is stored.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import selectinload

from callcenter.db import SessionFactory, transaction, utcnow
from callcenter.users.errors import (
    AuthenticationFailed,
    ExtensionTaken,
    InvalidUserInput,
    NoSuchUser,
    UserAlreadyExists,
)
from callcenter.users.models import ApiToken, Extension, Role, User, WebSession

logger = logging.getLogger(__name__)

_LOGIN_RE = re.compile(r"^[a-z0-9._-]{2,64}\Z")
_EXTENSION_RE = re.compile(r"^\d{2,10}\Z")
_MAX_PASSWORD = 1024

_hasher = PasswordHasher()
# Verifying against this keeps the timing of "no such login" equal to "bad password".
_DUMMY_HASH = _hasher.hash("not-a-real-password")


@dataclass(frozen=True, slots=True)
class UserView:
    """What the rest of the application needs to know about a logged-in user."""

    id: int
    login: str
    full_name: str
    role: Role
    language: str
    extensions: tuple[str, ...]

    @property
    def sees_all_calls(self) -> bool:
        return self.role.sees_all_calls


@dataclass(frozen=True, slots=True)
class SessionView:
    user: UserView
    csrf_token: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _view(user: User) -> UserView:
    return UserView(
        id=user.id,
        login=user.login,
        full_name=user.full_name,
        role=user.role,
        language=user.language,
        extensions=tuple(e.number for e in user.extensions),
    )


def check_login(login: str) -> str:
    login = login.strip().lower()
    if not _LOGIN_RE.match(login):
        raise InvalidUserInput("login", "2-64 characters: latin letters, digits, . _ -")
    return login


def check_password(password: str) -> str:
    if len(password) < 8:
        raise InvalidUserInput("password", "at least 8 characters")
    if len(password) > _MAX_PASSWORD:
        raise InvalidUserInput("password", "too long")
    return password


def check_extension(extension: str) -> str:
    extension = extension.strip()
    if not _EXTENSION_RE.match(extension):
        raise InvalidUserInput("extension", "digits only, 2 to 10 of them")
    return extension


class UserService:
    def __init__(self, sessions: SessionFactory, *, session_max_age: dt.timedelta):
        self._sessions = sessions
        self._session_max_age = session_max_age

    async def create_user(
        self,
        *,
        login: str,
        full_name: str,
        role: Role,
        password: str,
        extensions: tuple[str, ...] = (),
        language: str = "ru",
    ) -> UserView:
        login = check_login(login)
        check_password(password)
        numbers = tuple(check_extension(e) for e in extensions)
        if not full_name.strip():
            raise InvalidUserInput("full_name", "required")

        password_hash = await asyncio.to_thread(_hasher.hash, password)

        async with transaction(self._sessions) as session:
            if await session.scalar(select(User.id).where(User.login == login)):
                raise UserAlreadyExists(f"login {login} is taken")
            taken = await session.scalar(
                select(Extension.number).where(Extension.number.in_(numbers))
            )
            if taken:
                raise ExtensionTaken(taken)

            user = User(
                login=login,
                full_name=full_name.strip(),
                role=role,
                password_hash=password_hash,
                language=language,
            )
            session.add(user)
            await session.flush()
            session.add_all(Extension(number=n, user_id=user.id) for n in numbers)

        logger.info("user created user_id=%s login=%s role=%s", user.id, login, role)
        return await self.get_user(user.id)

    async def set_supervisor(self, login: str, supervisor_login: str | None) -> None:
        """Put a manager in a supervisor's team (None: in no team)."""
        async with transaction(self._sessions) as session:
            user = await session.scalar(
                select(User).where(User.login == login.strip().lower())
            )
            if user is None:
                raise NoSuchUser(f"user {login} not found")
            supervisor_id = None
            if supervisor_login is not None:
                supervisor = await session.scalar(
                    select(User).where(User.login == supervisor_login.strip().lower())
                )
                if supervisor is None:
                    raise NoSuchUser(f"user {supervisor_login} not found")
                if supervisor.role is not Role.SUPERVISOR or supervisor.id == user.id:
                    raise InvalidUserInput("supervisor", "must be another supervisor")
                supervisor_id = supervisor.id
            user.supervisor_id = supervisor_id
        logger.info("team changed user_id=%s supervisor_id=%s", user.id, supervisor_id)

    async def get_user(self, user_id: int) -> UserView:
        async with self._sessions() as session:
            user = await session.scalar(
                select(User)
                .options(selectinload(User.extensions))
                .where(User.id == user_id)
            )
        if user is None:
            raise NoSuchUser(f"user {user_id} not found")
        return _view(user)

    async def find_user_by_login(self, login: str) -> UserView | None:
        async with self._sessions() as session:
            user = await session.scalar(
                select(User)
                .options(selectinload(User.extensions))
                .where(User.login == login.strip().lower())
            )
        return _view(user) if user else None

    async def list_users(self) -> list[UserView]:
        async with self._sessions() as session:
            users = await session.scalars(
                select(User)
                .options(selectinload(User.extensions))
                .order_by(User.full_name)
            )
            return [_view(u) for u in users]

    async def set_password(self, login: str, password: str) -> None:
        check_password(password)
        password_hash = await asyncio.to_thread(_hasher.hash, password)
        async with transaction(self._sessions) as session:
            result = await session.execute(
                update(User)
                .where(User.login == login.strip().lower())
                .values(password_hash=password_hash)
            )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NoSuchUser(f"login {login} not found")

    async def set_language(self, user_id: int, language: str) -> None:
        if language not in ("ru", "en"):
            raise InvalidUserInput("language", "ru or en")
        async with transaction(self._sessions) as session:
            await session.execute(
                update(User).where(User.id == user_id).values(language=language)
            )

    async def extension_owners(self) -> dict[str, int]:
        """Every extension with the id of the user it belongs to."""
        async with self._sessions() as session:
            rows = await session.execute(select(Extension.number, Extension.user_id))
            return {number: user_id for number, user_id in rows}

    async def authenticate(self, login: str, password: str) -> UserView:
        if len(password) > _MAX_PASSWORD or len(login) > 200:
            raise AuthenticationFailed("wrong login or password")

        async with self._sessions() as session:
            user = await session.scalar(
                select(User)
                .options(selectinload(User.extensions))
                .where(User.login == login.strip().lower())
            )

        stored = user.password_hash if user else _DUMMY_HASH
        try:
            await asyncio.to_thread(_hasher.verify, stored, password)
        except (VerificationError, InvalidHashError):
            user = None
        if user is None or not user.is_active:
            logger.info("login refused login=%r", login[:64])
            raise AuthenticationFailed("wrong login or password")

        logger.info("login accepted user_id=%s", user.id)
        return _view(user)

    async def open_session(self, user_id: int) -> tuple[str, str]:
        """Start a web session; returns (cookie token, csrf token)."""
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)
        async with transaction(self._sessions) as session:
            session.add(
                WebSession(
                    token_hash=hash_token(token),
                    user_id=user_id,
                    csrf_token=csrf,
                    expires_at=utcnow() + self._session_max_age,
                )
            )
        return token, csrf

    async def find_session(self, token: str) -> SessionView | None:
        if not token or len(token) > 200:
            return None
        async with self._sessions() as session:
            row = await session.execute(
                select(WebSession, User)
                .join(User, User.id == WebSession.user_id)
                .options(selectinload(User.extensions))
                .where(
                    WebSession.token_hash == hash_token(token),
                    WebSession.expires_at > utcnow(),
                    User.is_active.is_(True),
                )
            )
            found = row.first()
        if found is None:
            return None
        web_session, user = found
        return SessionView(user=_view(user), csrf_token=web_session.csrf_token)

    async def close_session(self, token: str) -> None:
        async with transaction(self._sessions) as session:
            await session.execute(
                delete(WebSession).where(WebSession.token_hash == hash_token(token))
            )

    async def issue_api_token(self, login: str, name: str) -> str:
        """Create an API token for a user; the plain token is returned only here."""
        token = "cct_" + secrets.token_urlsafe(32)
        async with transaction(self._sessions) as session:
            user_id = await session.scalar(
                select(User.id).where(User.login == login.strip().lower())
            )
            if user_id is None:
                raise NoSuchUser(f"login {login} not found")
            session.add(
                ApiToken(user_id=user_id, name=name, token_hash=hash_token(token))
            )

        logger.info("api token issued user_id=%s name=%s", user_id, name)
        return token

    async def find_user_by_api_token(self, token: str) -> UserView | None:
        if not token.startswith("cct_") or len(token) > 200:
            return None
        async with transaction(self._sessions) as session:
            row = await session.execute(
                select(ApiToken, User)
                .join(User, User.id == ApiToken.user_id)
                .options(selectinload(User.extensions))
                .where(
                    ApiToken.token_hash == hash_token(token),
                    ApiToken.revoked_at.is_(None),
                    User.is_active.is_(True),
                )
            )
            found = row.first()
            if found is None:
                return None
            api_token, user = found
            api_token.last_used_at = utcnow()
        return _view(user)
