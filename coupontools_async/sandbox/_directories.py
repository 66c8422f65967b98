"""Handlers of the ``directories`` tag (v3): directories, their users and categories."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._core import Call, fail, handles

if TYPE_CHECKING:
    pass

from ._account import (
    _DIRECTORY_NOT_FOUND,
    Directory,
)


def _directory(call: Call) -> Directory:
    directory = call.state.account.directories.get(call.text("directory"))
    if directory is None:
        fail(507, _DIRECTORY_NOT_FOUND)
    return directory


@handles("directories_list")
def directories_list(call: Call) -> dict[str, Any]:
    """Every directory, oldest first."""
    directories = call.state.account.directories.values()
    return {
        "amount_of_directories": len(directories),
        "directory": [d.payload() for d in directories],
    }


@handles("directories_get")
def directories_get(call: Call) -> dict[str, Any]:
    """One directory, as a one-item ``directory`` list (spec x-assumption)."""
    return {"directory": [_directory(call).payload()]}


@handles("directories_users")
def directories_users(call: Call) -> dict[str, Any]:
    """One page of registered users, newest first; pages of ``config.directory_page_size``
    from page 1; a page past the end is empty."""
    directory = _directory(call)
    size = call.state.config.directory_page_size
    page = int(call.arg("page", 1))
    # Page p holds, newest first, the registrations [n - p*size, n - (p-1)*size) of the
    # oldest-first order: a slice, not a sort of the whole list.
    total = len(directory.order)
    end = max(total - (page - 1) * size, 0)
    start = max(end - size, 0)
    users = [directory.users[uid].payload() for uid in reversed(directory.order[start:end])]
    return {"directory": directory.id, "amount_of_users": len(users), "users": users}


@handles("directories_update_user")
def directories_update_user(call: Call) -> dict[str, Any]:
    """Set a registered user's payment status.

    No error is documented; an unknown user answers 505 "User ID not found", the v3
    family's "... ID not found" code (NotFoundError), after 507 for the directory.
    """
    directory = _directory(call)
    user = directory.users.get(call.text("user"))
    if user is None:
        fail(505, "User ID not found")
    user.payment_status = str(call.arg("payment_status"))
    return {
        "result": "updated_successfully",
        "directory": directory.id,
        "user": user.id,
        "payment_status": user.payment_status,
    }


@handles("directories_categories")
def directories_categories(call: Call) -> dict[str, Any]:
    """Every category of every level, each naming its ``parent``."""
    categories = call.state.account.categories.values()
    return {
        "amount_of_categories": len(categories),
        "category": [c.payload() for c in categories],
    }


@handles("directories_main_categories")
def directories_main_categories(call: Call) -> dict[str, Any]:
    """The 3rd level categories only (what FACTS.md says category/main/list answers)."""
    third = [c.payload() for c in call.state.account.categories.values() if c.level == 3]
    return {"amount_of_categories": len(third), "category": third}
