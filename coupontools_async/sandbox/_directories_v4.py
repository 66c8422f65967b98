"""Sandbox domain: the v4 Directory API (``/v4/directory...``): plain JSON, numeric ids.

The directories and users are those of the v3 directory endpoints (``_account``): one
directory, two spellings of its id (``dir_12345`` in v3 is 12345 here). Errors are HTTP
statuses with a JSON ``message`` (the spec's x-assumption: v4 error bodies are not
documented): 404 for an unknown directory or user, 422 for an email already registered,
403 when a blocked user asks for a sign on token.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ._account import Directory, DirectoryUser
from ._core import Call, handles, http_fail

__all__: list[str] = []


def _directory(call: Call) -> Directory:
    number = call.path_int("directory_id")
    directory = call.state.account.directories.get(f"dir_{number}")
    if directory is None:
        http_fail(404, "Directory not found.")
    return directory


def _user(call: Call) -> tuple[Directory, DirectoryUser]:
    directory = _directory(call)
    user = directory.users.get(f"reg_{call.path_int('user_id')}")
    if user is None:
        http_fail(404, "User not found.")
    return directory, user


@handles("directories_v4_list")
def directories_v4_list(call: Call) -> list[dict[str, Any]]:
    """Every directory, oldest first."""
    return [d.v4_payload() for d in call.state.account.directories.values()]


@handles("directories_v4_get")
def directories_v4_get(call: Call) -> dict[str, Any]:
    """One directory; 404 when unknown."""
    return _directory(call).v4_payload()


@handles("directory_users_v4_list")
def directory_users_v4_list(call: Call) -> list[dict[str, Any]]:
    """One page of a directory's users, oldest first; a page past the end is empty."""
    directory = _directory(call)
    size = call.state.config.directory_page_size
    page = int(call.arg("page", 1))
    ids = directory.order[(page - 1) * size : page * size]
    return [directory.users[uid].v4_payload() for uid in ids]


@handles("directory_users_v4_get")
def directory_users_v4_get(call: Call) -> dict[str, Any]:
    """One user; 404 when the directory or the user is unknown."""
    return _user(call)[1].v4_payload()


@handles("directory_users_v4_create")
def directory_users_v4_create(call: Call) -> dict[str, Any]:
    """Register a user; an email already in the directory is 422 (case does not matter)."""
    directory = _directory(call)
    email = str(call.arg("email")).strip()
    if any(u.email.lower() == email.lower() for u in directory.users.values()):
        http_fail(422, "The email has already been taken.")
    state = call.state.account
    # A password is generated when none is given (docs); only a digest is ever kept.
    password = str(call.arg("password") or state.token())
    user = DirectoryUser(
        id=state.new_user(),
        email=email,
        birthday=call.arg("birth_date"),
        custom=(
            call.text("custom_1"),
            call.text("custom_2"),
            call.text("custom_3"),
        ),
        password_sha256=hashlib.sha256(password.encode()).hexdigest(),
        created_at=call.now(),
        first_name=call.text("first_name"),
        last_name=call.text("last_name"),
        phone=call.text("phone"),
        address=call.text("address"),
        zip=call.text("zip"),
        city=call.text("city"),
    )
    directory.register(user)
    return user.v4_payload()


@handles("directory_users_v4_update")
def directory_users_v4_update(call: Call) -> dict[str, Any]:
    """Block or unblock a user's access (``block``, the one field there is)."""
    _, user = _user(call)
    user.blocked = bool(call.arg("block"))
    return user.v4_payload()


@handles("directory_users_v4_grant_access")
def directory_users_v4_grant_access(call: Call) -> dict[str, Any]:
    """Paid access to all paid content, until ``expires_at`` (UTC) or for good."""
    _, user = _user(call)
    user.payment_status = "paid"
    user.access_expires_at = call.arg("expires_at")
    return user.v4_payload()


@handles("directory_users_v4_revoke_access")
def directory_users_v4_revoke_access(call: Call) -> None:
    """Take the paid access away (revoking none is not an error: the state asked for holds)."""
    _, user = _user(call)
    user.payment_status = "unpaid"
    user.access_expires_at = None


@handles("directory_users_v4_sso")
def directory_users_v4_sso(call: Call) -> dict[str, Any]:
    """A one-time sign on token; a blocked user gets 403 (its access is blocked)."""
    directory, user = _user(call)
    if user.blocked:
        http_fail(403, "User is blocked.")
    state = call.state.account
    token = state.token()
    state.directory_sso_tokens[token] = user.number
    return {"token": token, "url": f"{directory.url}/sso/{token}"}
