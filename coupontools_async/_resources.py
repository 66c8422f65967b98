"""Resource groups: the generated ones, plus the few methods that are more than one call.

Every generated ``<Group>Resource`` already has one method per operation, with the
spec's signature and docstring. Here live only the methods DESIGN.md adds on top:
one ``sessions.list`` over the four list endpoints, ``search`` choosing its endpoint,
the six ``send_*`` spellings of ``send/email`` and ``send/sms``, the flat
``wallet_users.list`` and ``wallet_users.iter`` arguments, and ``sessions.iter`` over
the four generated pagers (every other ``iter`` is generated from the spec's
``x-pagination``), and the bulk imports. The composites take the
escape hatches (``extra_body``, ``extra_query``, ``extra_headers``) and pass them on to
every call they make (each page of an ``iter``).
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterable, Iterable, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from ._generated import models
from ._generated.api.distribution import (
    DistributionResource,
    DistributionResourceWithRawResponse,
)
from ._generated.api.loyalty_users import (
    LoyaltyUsersResource,
    LoyaltyUsersResourceWithRawResponse,
)
from ._generated.api.sessions import SessionsResource, SessionsResourceWithRawResponse
from ._generated.api.wallet_users import WalletUsersResource, WalletUsersResourceWithRawResponse
from ._kernel import Extras, RawMethod
from ._pagination import AsyncPager
from .errors import ValidationError

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .bulk import ImportReport, LoyaltyImportOptions, WalletImportOptions


__all__ = [
    "Distribution",
    "DistributionWithRawResponse",
    "Extras",
    "LoyaltyUsers",
    "LoyaltyUsersWithRawResponse",
    "Sessions",
    "SessionsWithRawResponse",
    "WalletUsers",
    "WalletUsersWithRawResponse",
]

SessionState = Literal["all", "opened", "claimed", "validated"]
_STATE_OPERATIONS = {
    "all": "sessions_list_all",
    "opened": "sessions_list_opened",
    "claimed": "sessions_list_claimed",
    "validated": "sessions_list_validated",
}


def _state_method(resource: SessionsResource, state: str) -> Any:
    if not isinstance(state, str) or state not in _STATE_OPERATIONS:
        raise ValidationError(
            f"state: must be one of {', '.join(_STATE_OPERATIONS)}, got "
            + (repr(state) if isinstance(state, str) else f"a {type(state).__name__}"),
            param="state",
            rule="enum",
        )
    return getattr(resource, "list_" + ("all" if state == "all" else state))


class Sessions(SessionsResource):
    """Coupon sessions (v3): list by state, iterate every page, get, update, search, delete."""

    async def list(
        self,
        *,
        campaign: str,
        state: SessionState = "all",
        page: int | None = None,
        start_date: date | str | None = None,
        end_date: date | str | None = None,
        **extras: Unpack[Extras],
    ) -> models.CouponSessionListResponse:
        """One page of a coupon's sessions: all of them, or only the opened, claimed or validated.

        ``state`` picks the endpoint: campaign/data, /opens, /claims or /validations.
        Dates are UTC, as a ``date``, a ``datetime`` (sent to the minute) or a string.
        """
        method = _state_method(self, state)
        result: models.CouponSessionListResponse = await method(
            campaign=campaign, page=page, start_date=start_date, end_date=end_date, **extras
        )
        return result

    def iter(
        self,
        *,
        campaign: str,
        state: SessionState = "all",
        start_date: date | str | None = None,
        end_date: date | str | None = None,
        start_page: int | None = None,
        max_pages: int | None = None,
        max_items: int | None = None,
        **extras: Unpack[Extras],
    ) -> AsyncPager[models.CouponSession]:
        """Every session of every page (``async for s in ct.sessions.iter(campaign=...)``).

        Holds one page at a time; ``.pages()`` iterates pages instead of sessions.
        """
        _state_method(self, state)  # refuses an unknown state before anything is built
        pager: AsyncPager[models.CouponSession] = getattr(self, "iter_" + state)(
            campaign=campaign,
            start_date=start_date,
            end_date=end_date,
            start_page=start_page,
            max_pages=max_pages,
            max_items=max_items,
            **extras,
        )
        return pager

    async def search(
        self,
        *,
        code: str | None = None,
        phone: str | None = None,
        email: str | None = None,
        campaign: str | None = None,
        **extras: Unpack[Extras],
    ) -> models.CouponSessionSearchResponse:
        """Find sessions by custom validation code, phone or email (at least 5 characters).

        With ``campaign``, searches that coupon only (campaignsession/search); without,
        every coupon (couponsession/search).
        """
        if campaign is not None:
            return await self.search_in_campaign(
                campaign=campaign, code=code, phone=phone, email=email, **extras
            )
        return await super().search(code=code, phone=phone, email=email, **extras)


class SessionsWithRawResponse(SessionsResourceWithRawResponse):
    """The methods of :class:`Sessions`, each returning a ``RawResponse`` (``iter`` has none)."""

    list = RawMethod(Sessions.list)
    search = RawMethod(Sessions.search)


def _id_of(kind: str, prefix: str, param: str, value: str) -> str:
    """Refuse an id of the wrong kind: send/email takes coupons and directories alike."""
    if not isinstance(value, str) or not value.startswith(prefix):
        raise ValidationError(
            f"{param}: expected a {kind} id ({prefix}XXXXXX), got {value!r:.60}",
            param=param,
            rule="pattern",
        )
    return value


class Distribution(DistributionResource):
    """Sending coupons, web loyalty cards and directories by email and SMS (v3)."""

    async def send_coupon_email(
        self,
        *,
        campaign: str,
        email: str,
        couponsession: str | None = None,
        subject: str | None = None,
        firstname: str | None = None,
        lastname: str | None = None,
        check_unique: bool | None = None,
        **extras: Unpack[Extras],
    ) -> models.SendResponse:
        """Email a coupon (needs an email platform connected to the account)."""
        return await self.send_email(
            campaign=_id_of("coupon", "cam_", "campaign", campaign),
            email=email,
            couponsession=couponsession,
            subject=subject,
            firstname=firstname,
            lastname=lastname,
            check_unique=check_unique,
            **extras,
        )

    async def send_loyalty_email(
        self,
        *,
        loyaltycard: str,
        email: str,
        subject: str | None = None,
        **extras: Unpack[Extras],
    ) -> models.SendResponse:
        """Email a web loyalty card (needs an email platform connected to the account)."""
        return await self.send_email(
            loyaltycard=loyaltycard, email=email, subject=subject, **extras
        )

    async def send_coupon_sms(
        self,
        *,
        campaign: str,
        phone: str,
        couponsession: str | None = None,
        body: str | None = None,
        **extras: Unpack[Extras],
    ) -> models.SendResponse:
        """Text a coupon to an E.164 phone number (needs an SMS platform connected)."""
        return await self.send_sms(
            campaign=_id_of("coupon", "cam_", "campaign", campaign),
            phone=phone,
            couponsession=couponsession,
            body=body,
            **extras,
        )

    async def send_loyalty_sms(
        self,
        *,
        loyaltycard: str,
        phone: str,
        body: str | None = None,
        **extras: Unpack[Extras],
    ) -> models.SendResponse:
        """Text a web loyalty card to an E.164 phone number (needs an SMS platform connected)."""
        return await self.send_sms(loyaltycard=loyaltycard, phone=phone, body=body, **extras)

    async def send_directory_email(
        self,
        *,
        campaign: str,
        email: str,
        subject: str | None = None,
        **extras: Unpack[Extras],
    ) -> models.SendResponse:
        """Email a directory; its id (``dir_...``) travels in ``campaign``, as the docs have it.

        Needs an email platform connected to the account (else error 104).
        """
        return await self.send_email(
            campaign=_id_of("directory", "dir_", "campaign", campaign),
            email=email,
            subject=subject,
            **extras,
        )

    async def send_directory_sms(
        self,
        *,
        campaign: str,
        phone: str,
        body: str | None = None,
        **extras: Unpack[Extras],
    ) -> models.SendResponse:
        """Text a directory to an E.164 phone number; its id (``dir_...``) goes in ``campaign``.

        Needs an SMS platform connected to the account (else error 103).
        """
        return await self.send_sms(
            campaign=_id_of("directory", "dir_", "campaign", campaign),
            phone=phone,
            body=body,
            **extras,
        )


class DistributionWithRawResponse(DistributionResourceWithRawResponse):
    """The methods of :class:`Distribution`, each returning a ``RawResponse``."""

    send_coupon_email = RawMethod(Distribution.send_coupon_email)
    send_loyalty_email = RawMethod(Distribution.send_loyalty_email)
    send_coupon_sms = RawMethod(Distribution.send_coupon_sms)
    send_loyalty_sms = RawMethod(Distribution.send_loyalty_sms)
    send_directory_email = RawMethod(Distribution.send_directory_email)
    send_directory_sms = RawMethod(Distribution.send_directory_sms)


class WalletUsers(WalletUsersResource):
    """Wallet loyalty card users (v4): list, iterate, get, create, stamps, rewards, void, delete."""

    async def list(
        self,
        card_id: int,
        *,
        page: int | None = None,
        per_page: int | None = None,
        include_voided: bool | None = None,
        keyword: str | None = None,
        strict: bool | None = None,
        pagination: models.WalletUserPagination | Any | None = None,
        filter: models.WalletUserFilter | Any | None = None,
        **extras: Unpack[Extras],
    ) -> builtins.list[models.WalletUser]:
        """One page of a card's users, optionally filtered by ``keyword`` (exact with ``strict``).

        ``page`` and ``per_page`` fill the request's ``pagination`` object, ``keyword``
        and ``strict`` its ``filter`` (or pass those objects whole).
        """
        if pagination is None and (page is not None or per_page is not None):
            pagination = models.WalletUserPagination(page=page, per_page=per_page)
        if filter is None and (keyword is not None or strict is not None):
            filter = models.WalletUserFilter(keyword=keyword, strict=strict)
        return await super().list(
            card_id, pagination=pagination, filter=filter, include_voided=include_voided, **extras
        )

    def iter(
        self,
        card_id: int,
        *,
        per_page: int | None = None,
        include_voided: bool | None = None,
        keyword: str | None = None,
        strict: bool | None = None,
        filter: models.WalletUserFilter | Mapping[str, Any] | None = None,
        start_page: int | None = None,
        max_pages: int | None = None,
        max_items: int | None = None,
        **extras: Unpack[Extras],
    ) -> AsyncPager[models.WalletUser]:
        """Every user of a card, page after page (``async for u in ct.wallet_users.iter(1)``).

        Holds one page at a time; ``.pages()`` iterates pages instead of users.
        """
        if filter is None and (keyword is not None or strict is not None):
            filter = models.WalletUserFilter(keyword=keyword, strict=strict)
        return super().iter(
            card_id,
            filter=filter,
            include_voided=include_voided,
            per_page=per_page,
            start_page=start_page,
            max_pages=max_pages,
            max_items=max_items,
            **extras,
        )

    async def import_users(
        self,
        card_id: int,
        rows: Iterable[Any] | AsyncIterable[Any],
        **options: Unpack[WalletImportOptions],
    ) -> ImportReport:
        """Import many users into a card: batched, bounded, exactly once, resumable.

        ``rows``: dicts or models, from any (async) iterable, or a streaming reader such
        as ``coupontools_async.bulk.read_csv(path)``. Options (``concurrency=8``,
        ``batch_size=100``, ``journal=``, ``on_progress=``, ``key="email"``,
        ``default_region="BE"`` for the file's national phone numbers, ``max_wait=``):
        :class:`~coupontools_async.bulk.WalletImportOptions`.
        """
        from .bulk import import_wallet_users

        return await import_wallet_users(self._client, card_id, rows, **options)  # type: ignore[arg-type]


class WalletUsersWithRawResponse(WalletUsersResourceWithRawResponse):
    """The methods of :class:`WalletUsers`, each returning a ``RawResponse`` (``iter`` has none).

    ``import_users`` makes many requests: its ``responses`` holds every one of them.
    """

    list = RawMethod(WalletUsers.list)
    import_users = RawMethod(WalletUsers.import_users)


class LoyaltyUsers(LoyaltyUsersResource):
    """Web loyalty card users (v3): create, link, list, search, update points, import."""

    async def import_users(
        self,
        *,
        loyaltycard: str,
        rows: Iterable[Any] | AsyncIterable[Any],
        **options: Unpack[LoyaltyImportOptions],
    ) -> ImportReport:
        """Create and link one user per row, exactly once; see :mod:`coupontools_async.bulk`.

        Options (``concurrency=8``, ``journal=``, ``on_progress=``, ``default_region="BE"``
        for the rows' national phone numbers, ``max_wait=``):
        :class:`~coupontools_async.bulk.LoyaltyImportOptions`.
        """
        from .bulk import import_loyalty_users

        return await import_loyalty_users(self._client, loyaltycard, rows, **options)  # type: ignore[arg-type]


class LoyaltyUsersWithRawResponse(LoyaltyUsersResourceWithRawResponse):
    """The methods of :class:`LoyaltyUsers`, each returning a ``RawResponse``.

    ``import_users`` makes many requests: its ``responses`` holds every one of them.
    """

    import_users = RawMethod(LoyaltyUsers.import_users)
