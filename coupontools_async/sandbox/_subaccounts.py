"""Handlers of the ``subaccounts`` (``/v4/subaccount*``, v3 envelope) and ``account`` tags.

Almost none of these answers is documented (FACTS.md names the endpoints and a few
errors); the choices are said in a comment next to the code.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import TYPE_CHECKING, Any

from ._core import Call, fail, handles

if TYPE_CHECKING:
    pass

from ._account import (
    _SUBACCOUNT_NOT_FOUND,
    AccountState,
    Subaccount,
)


def _digest(password: Any) -> str:
    """Only a digest of a password is kept, so a state dump never shows one."""
    return hashlib.sha256(str(password).encode()).hexdigest()


def _subaccount(call: Call, message: str = _SUBACCOUNT_NOT_FOUND) -> Subaccount:
    sub = call.state.account.subaccounts.get(call.text("subaccount"))
    if sub is None:
        fail(510, message)
    return sub


def _check_email(call: Call, email: str, *, owner: str | None = None) -> None:
    """305 for a malformed address (the core checks the format first; this is a backstop),
    304 when another subaccount has it (any case)."""
    local, _, domain = email.partition("@")
    if not local or "." not in domain or " " in email:
        fail(305, "Email address is not valid")
    holder = call.state.account.subaccount_by_email.get(email.lower())
    if holder is not None and holder != owner:
        fail(304, "Email already exists")


def _check_expiry(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    try:
        date.fromisoformat(text)
    except ValueError:
        fail(303, "Invalid format in parameter: expiry_date. Required format: yyyy-MM-dd")
    if len(text) != 10:
        fail(303, "Invalid format in parameter: expiry_date. Required format: yyyy-MM-dd")
    return text


@handles("subaccounts_list")
def subaccounts_list(call: Call) -> dict[str, Any]:
    """Every subaccount, oldest first."""
    subs = call.state.account.subaccounts.values()
    return {"amount_of_subaccounts": len(subs), "subaccounts": [s.payload() for s in subs]}


@handles("subaccounts_get")
def subaccounts_get(call: Call) -> dict[str, Any]:
    """One subaccount; an unknown id is 510 (FACTS.md: subaccount not found)."""
    return {"subaccount": _subaccount(call).payload()}


@handles("subaccounts_create")
def subaccounts_create(call: Call) -> dict[str, Any]:
    """A new subaccount; emits ``subaccount_created`` with its account data.

    Undocumented defaults: status ``customer``, no package, 10 campaigns at most.
    """
    state = call.state.account
    email = call.text("email").strip()
    if not email:
        fail(200, "Missing parameter: email")
    _check_email(call, email)
    expiry = _check_expiry(call.arg("expiry_date"))
    password = call.arg("password")
    sub = state.add_subaccount(
        Subaccount(
            email=email,
            password_sha256=_digest(password) if password else None,
            package=call.text("package"),
            status=call.text("status", "customer"),
            first_name=call.text("first_name"),
            last_name=call.text("last_name"),
            country=call.text("country"),
            company_name=call.text("company_name"),
            expiry_date=expiry,
            created_at=call.now(),
        )
    )
    call.emit(
        "subaccount_created",
        {
            "subaccount": sub.id,
            "data": {
                "email": sub.email,
                "company_name": sub.company_name,
                "first_name": sub.first_name,
                "last_name": sub.last_name,
                "phone": "",  # create takes no phone; the event's field stays empty
                "country": sub.country,
            },
        },
    )
    # The answer's subaccount is an object with ID (FACTS.md evidence, Grade A).
    return {"result": "saved_successfully", "subaccount": sub.payload()}


@handles("subaccounts_reset_password_url")
def subaccounts_reset_password_url(call: Call) -> dict[str, Any]:
    """A new password reset URL, with a fresh token on every call.

    No error is documented; an unknown subaccount answers 510 like the rest of the family.
    """
    state = call.state.account
    sub = _subaccount(call)
    token = state.token()
    state.reset_urls[token] = sub.id
    return {"subaccount": {"ID": sub.id, "url": f"{state.app_url}/password/reset/{token}"}}


@handles("subaccounts_sso")
def subaccounts_sso(call: Call) -> dict[str, Any]:
    """A fresh single sign on token and its login URLs, opening ``page`` (campaigns by default)."""
    state = call.state.account
    sub = _subaccount(call, "Subaccount ID not correct.")
    page = call.text("page", "campaigns")
    query = f"page={page}"
    if page == "update_campaign":
        campaign = call.arg("campaign")
        if not campaign:
            fail(200, "Missing parameter: campaign")
        query += f"&campaign={campaign}"
    token = state.token()
    state.sso_tokens[token] = sub.id
    return {"subaccount": {"ID": sub.id, **_sso_links(state, token, query)}}


@handles("account_sso")
def account_sso(call: Call) -> dict[str, Any]:
    """A fresh single sign on token for the account itself (no parameters)."""
    state = call.state.account
    token = state.token()
    state.account_sso_tokens.append(token)
    return {"account": _sso_links(state, token, "page=campaigns")}


@handles("account_teammate_sso")
def account_teammate_sso(call: Call) -> dict[str, Any]:
    """A fresh token for a teammate (503 when unknown), opening ``campaign`` when given (502)."""
    state = call.state.account
    teammate = call.arg("teammate")
    if teammate not in state.teammates:
        fail(503, "Teammate ID not found")
    query = "page=campaigns"
    campaign = call.arg("campaign")
    if campaign is not None:
        if campaign not in call.state.coupons.campaigns:
            fail(502, "Campaign ID not found")
        query = f"page=update_campaign&campaign={campaign}"
    token = state.token()
    state.teammate_sso_tokens[token] = teammate
    return {"teammate": {"ID": teammate, **_sso_links(state, token, query)}}


def _sso_links(state: AccountState, token: str, query: str) -> dict[str, str]:
    return {
        "token": token,
        "url": f"{state.app_url}/sso/{token}?{query}",
        "url_whitelabel": f"{state.whitelabel_url}/sso/{token}?{query}",
    }
