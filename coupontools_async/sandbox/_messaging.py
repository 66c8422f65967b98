"""Handlers of the ``sms`` and ``email`` tags (v3): groups and contacts of the two tools.

The two tools are twins that differ in names only (``smsgroup``/``emailgroup``, the
address field, the custom fields, how a new group's id is answered): each handler is
written once and told which tool it serves by a :class:`Tool`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import attrs

from .._wire import format_day_first_utc
from ._core import Call, fail, handles
from ._loyalty import _SAVED, _valid_birthday

__all__ = ["EMAIL", "SMS", "Contact", "ContactGroup", "MessagingState", "Tool"]


@attrs.define(kw_only=True)
class Contact:
    """A contact of an SMS group (``phone``) or an email group (``email``)."""

    id: str = ""
    phone: str = ""
    """Digits without the '+', as api-docs 003 shows saved numbers."""
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    birthday: str | None = None
    custom: dict[str, str] = attrs.Factory(dict)
    """Custom fields by their wire name (``customfield1`` for SMS, ``custom1`` for email)."""
    unsubscribed: bool = False
    unsubscribed_at: datetime | None = None

    def payload(self, *, sms: bool) -> dict[str, Any]:
        """The ``SmsContact`` / ``EmailContact`` wire object."""
        out: dict[str, Any] = {"ID": self.id}
        if sms:
            out["phone"] = self.phone
        else:
            out["email"] = self.email
        out.update(
            first_name=self.first_name,
            last_name=self.last_name,
            unsubscribed=self.unsubscribed,
        )
        if self.unsubscribed_at is not None:
            # The layout api-docs 003 shows ("13/07/2018 19:47 UTC"), and only when
            # unsubscribed, as there.
            out["unsubscribedate"] = format_day_first_utc(self.unsubscribed_at)
        return out


@attrs.define(kw_only=True)
class ContactGroup:
    """An SMS or email group (``gro_<number>``)."""

    id: str = ""
    number: int = 0
    name: str = ""
    contacts: dict[str, Contact] = attrs.Factory(dict)
    by_address: dict[str, str] = attrs.Factory(dict)
    """Phone digits or lowercased email → contact id: one contact per address."""


@attrs.define(kw_only=True)
class MessagingState:
    """The SMS and email tools: whether each is connected, their groups and contacts."""

    sms_connected: bool = True
    """False: every smstool call answers 103 (no SMS platform connected)."""
    email_connected: bool = True
    """False: every emailtool call answers 103 (api-docs 003's code for email too)."""
    sms_groups: dict[str, ContactGroup] = attrs.Factory(dict)
    email_groups: dict[str, ContactGroup] = attrs.Factory(dict)
    next_group: int = 119251
    """Shared by both tools, so a ``gro_`` id names one group only."""
    next_contact: int = 12345678

    def add_group(self, name: str, *, sms: bool) -> ContactGroup:
        """A new group with the next number."""
        group = ContactGroup(id=f"gro_{self.next_group}", number=self.next_group, name=name)
        self.next_group += 1
        (self.sms_groups if sms else self.email_groups)[group.id] = group
        return group

    def save_contact(self, group: ContactGroup, address: str, fields: dict[str, Any]) -> Contact:
        """Add a contact, or update the one with this address (given fields only).

        Undocumented: adding an address twice updates the contact rather than making a
        second one, and never clears an unsubscription (an opt-out stays an opt-out).
        """
        key = address.lower()
        contact_id = group.by_address.get(key)
        if contact_id is None:
            contact = Contact(id=f"con_{self.next_contact}")
            self.next_contact += 1
            group.contacts[contact.id] = contact
            group.by_address[key] = contact.id
        else:
            contact = group.contacts[contact_id]
        for name, value in fields.items():
            if value is None:
                continue
            if name in ("phone", "email", "first_name", "last_name", "birthday"):
                setattr(contact, name, value)
            else:
                contact.custom[name] = str(value)
        return contact


@attrs.frozen
class Tool:
    """What tells the SMS tool's calls from the email tool's."""

    sms: bool
    off: str
    """The 103 text when the tool is not connected."""
    group_arg: str
    address: str
    custom: tuple[str, ...]
    group_id: Callable[[ContactGroup], tuple[str, Any]]
    """The new group's id as ``create_group`` answers it: its field and value."""

    def state(self, call: Call) -> MessagingState:
        """The messaging state, or 103 when this tool is not connected."""
        messaging = call.state.messaging
        if not (messaging.sms_connected if self.sms else messaging.email_connected):
            fail(103, self.off)
        return messaging

    def groups(self, messaging: MessagingState) -> dict[str, ContactGroup]:
        """This tool's groups."""
        return messaging.sms_groups if self.sms else messaging.email_groups


SMS = Tool(
    sms=True,
    off="Your account is not connected with the Coupontools SMS services",
    group_arg="smsgroup",
    address="phone",
    custom=tuple(f"customfield{i}" for i in range(1, 8)),
    # A bare number, as api-docs 003 shows.
    group_id=lambda group: ("groupid", group.number),
)
# api-docs 003 answers 103 with an "Email" text on every emailtool endpoint, although
# FACTS.md lists 104 for "no email integration"; the spec follows api-docs, so do we.
EMAIL = Tool(
    sms=False,
    off="Your account is not connected with the Coupontools Email services",
    group_arg="emailgroup",
    address="email",
    custom=tuple(f"custom{i}" for i in range(1, 11)),
    # A ``gro_...`` string, as api-docs 003 shows.
    group_id=lambda group: ("group_id", group.id),
)


def _group(groups: dict[str, ContactGroup], group_id: Any) -> ContactGroup:
    group = groups.get(str(group_id))
    if group is None:
        fail(514, "Group ID not found")
    return group


def _group_list(groups: dict[str, ContactGroup]) -> dict[str, Any]:
    return {
        "amount_of_groups": len(groups),
        "group": [{"ID": g.id, "name": g.name} for g in groups.values()],
    }


def _contact_list(group: ContactGroup, *, sms: bool) -> dict[str, Any]:
    return {
        "group_id": group.id,
        "group_name": group.name,
        "amount_of_contacts": len(group.contacts),
        "contact": [c.payload(sms=sms) for c in group.contacts.values()],
    }


def _group_name(call: Call) -> str:
    name = call.text("group_name").strip()
    if not name:
        fail(200, "Missing parameter: group_name")
    return name


def _list_groups(call: Call, tool: Tool) -> dict[str, Any]:
    return _group_list(tool.groups(tool.state(call)))


def _list_contacts(call: Call, tool: Tool) -> dict[str, Any]:
    group = _group(tool.groups(tool.state(call)), call.arg(tool.group_arg))
    return _contact_list(group, sms=tool.sms)


def _create_group(call: Call, tool: Tool) -> dict[str, Any]:
    group = tool.state(call).add_group(_group_name(call), sms=tool.sms)
    field, value = tool.group_id(group)
    return {"result": _SAVED, field: value}


def _add_contact(call: Call, tool: Tool) -> dict[str, Any]:
    """Add (or update) a contact: one per address (any case); a phone is saved without '+'."""
    messaging = tool.state(call)
    group = _group(tool.groups(messaging), call.arg(tool.group_arg))
    address = str(call.arg(tool.address, "")).strip()
    if tool.sms:
        address = address.lstrip("+")
    if not address:
        fail(200, f"Missing parameter: {tool.address}")
    fields: dict[str, Any] = {
        tool.address: address,
        "first_name": call.arg("first_name"),
        "last_name": call.arg("last_name"),
        "birthday": _valid_birthday(call.arg("birthday")),
    }
    fields.update((name, call.arg(name)) for name in tool.custom)
    contact = messaging.save_contact(group, address, fields)
    return {
        "group_id": group.id,
        tool.address: getattr(contact, tool.address),
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "result": _SAVED,
        "contact_id": contact.id,
    }


@handles("sms_list_groups")
def sms_list_groups(call: Call) -> dict[str, Any]:
    """Every SMS group, oldest first."""
    return _list_groups(call, SMS)


@handles("sms_list_contacts")
def sms_list_contacts(call: Call) -> dict[str, Any]:
    """An SMS group and all its contacts (subscribed or not)."""
    return _list_contacts(call, SMS)


@handles("sms_create_group")
def sms_create_group(call: Call) -> dict[str, Any]:
    """A new SMS group; answers the bare number ``groupid``."""
    return _create_group(call, SMS)


@handles("sms_add_contact")
def sms_add_contact(call: Call) -> dict[str, Any]:
    """Add (or update) a contact of an SMS group; the phone is saved without its '+'."""
    return _add_contact(call, SMS)


@handles("email_list_groups")
def email_list_groups(call: Call) -> dict[str, Any]:
    """Every email group, oldest first."""
    return _list_groups(call, EMAIL)


@handles("email_list_contacts")
def email_list_contacts(call: Call) -> dict[str, Any]:
    """An email group and all its contacts (subscribed or not)."""
    return _list_contacts(call, EMAIL)


@handles("email_create_group")
def email_create_group(call: Call) -> dict[str, Any]:
    """A new email group; answers ``group_id`` as a ``gro_...`` string."""
    return _create_group(call, EMAIL)


@handles("email_add_contact")
def email_add_contact(call: Call) -> dict[str, Any]:
    """Add (or update) a contact of an email group; one contact per address, any case."""
    return _add_contact(call, EMAIL)
