"""A FastAPI app built on coupontools_async: wallet cards and users, and a webhook receiver.

Run it against your account::

    pip install 'coupontools-async[fastapi,server]'
    export COUPONTOOLS_CLIENT_ID=... COUPONTOOLS_CLIENT_SECRET=...
    uvicorn examples.fastapi_app:app

or against an in-memory sandbox (no account, no network), which posts the webhooks of
what you do back to the app::

    COUPONTOOLS_SANDBOX=1 \
    COUPONTOOLS_SANDBOX_WEBHOOK_URL=http://127.0.0.1:8000/webhooks/coupontools \
    uvicorn examples.fastapi_app:app

Then point the Coupontools webhook settings at ``https://<your host>/webhooks/coupontools``
and watch ``GET /webhooks/stats``.

- ``GET /cards`` lists the wallet loyalty cards;
- ``POST /cards/{card_id}/users`` adds a user to a card and returns its download link;
- ``POST /webhooks/coupontools`` receives webhooks, checks each one with the API
  (forged or replayed events get 401) and keeps statistics by event type;
- ``GET /webhooks/stats`` shows those statistics.

Every endpoint uses the one client the app opens at startup (``coupontools_lifespan``).
"""

# No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations
# at run time, and the webhook endpoint's names a local (the chosen dependency).
import os
from collections import Counter, deque
from typing import Annotated, Any

import attrs
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from coupontools_async import (
    APIConnectionError,
    APIError,
    NotFoundError,
    ValidationError,
    models,
)
from coupontools_async.fastapi import (
    ClientFactory,
    CoupontoolsClient,
    coupontools_lifespan,
    webhook_event,
)
from coupontools_async.webhooks import UnknownEvent, WebhookEvent

__all__ = ["NewUser", "WebhookStats", "app", "create_app"]


class NewUser(BaseModel):
    """The body of ``POST /cards/{card_id}/users``."""

    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, description="E.164, such as +32470123456")


@attrs.define
class WebhookStats:
    """What the receiver has seen: counts by type and a few things worth a dashboard."""

    by_type: Counter[str] = attrs.Factory(Counter)
    coupon_activity: Counter[str] = attrs.Factory(Counter)
    """``"<campaign> <event type>"``: claims, validations... per coupon."""
    new_wallet_users: Counter[int] = attrs.Factory(Counter)
    """New users per wallet card id."""
    leads_by_source: Counter[str] = attrs.Factory(Counter)
    """Landing page submissions per ``utm_source``."""
    recent: deque[str] = attrs.Factory(lambda: deque(maxlen=20))
    """One line per event, newest last."""

    def record(self, event: WebhookEvent) -> str:
        """Count ``event`` and return the line it adds to :attr:`recent`."""
        self.by_type[event.type] += 1
        match event:
            case models.CouponEvent():
                campaign = event.campaign or "?"
                self.coupon_activity[f"{campaign} {event.type}"] += 1
                who = event.customer.email if event.customer else None
                line = (
                    f"{event.type} on {campaign} (session {event.session}) by {who or 'anonymous'}"
                )
            case models.CouponCreatedEvent():
                line = f"coupon {event.coupon} created in {event.subaccount}"
            case models.SubaccountCreatedEvent():
                company = event.data.company_name if event.data else None
                line = f"subaccount {event.subaccount} created for {company or 'unnamed company'}"
            case models.LoyaltyCompleteEvent():
                line = f"web loyalty card {event.loyaltycard} completed ({event.statcode})"
            case models.WalletUserCreatedEvent():
                self.new_wallet_users[event.loyalty_id or 0] += 1
                user_id = event.user.id if event.user else None
                line = f"wallet user {user_id} joined card {event.loyalty_id}"
            case models.LandingPageSubmissionEvent():
                source = event.utm_tags.utm_source if event.utm_tags else None
                self.leads_by_source[source or "direct"] += 1
                line = f"landing page {event.landing_id} submitted, coupon {event.target_coupon}"
            case models.DirectoryRegistrationEvent():
                user = event.data.user_id if event.data else None
                line = f"directory registration of user {user}"
            case UnknownEvent():
                line = f"unknown event type {event.type!r} ({len(event.data)} fields)"
        self.recent.append(line)
        return line

    def as_json(self) -> dict[str, Any]:
        """The statistics as JSON-ready data."""
        return {
            "by_type": dict(self.by_type),
            "coupon_activity": dict(self.coupon_activity),
            "new_wallet_users": {str(k): v for k, v in self.new_wallet_users.items()},
            "leads_by_source": dict(self.leads_by_source),
            "recent": list(self.recent),
        }


def create_app(
    client_factory: ClientFactory | None = None, *, verify_webhooks: bool = True
) -> FastAPI:
    """The example app.

    Args:
        client_factory: makes the shared client at startup (default: ``AsyncClient()``,
            configured from the ``COUPONTOOLS_*`` environment variables). Pass
            ``Sandbox().client`` to run against a sandbox.
        verify_webhooks: check every webhook with the API before accepting it. Keep it on
            in production: Coupontools does not sign its webhooks. (Events whose id is not
            an ``evt_...`` id, such as the docs' ``directory_registration`` example, cannot
            be verified and are refused while it is on.)
    """
    app = FastAPI(title="Coupontools example", lifespan=coupontools_lifespan(client_factory))
    stats = WebhookStats()
    app.state.webhook_stats = stats

    @app.exception_handler(ValidationError)
    async def invalid_input(request: Request, exc: ValidationError) -> JSONResponse:
        return JSONResponse({"error": "invalid", "param": exc.param, "message": str(exc)}, 422)

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse({"error": "not_found", "message": str(exc)}, 404)

    @app.exception_handler(APIError)
    async def upstream_refused(request: Request, exc: APIError) -> JSONResponse:
        return JSONResponse({"error": "coupontools_error", "codes": list(exc.codes)}, 502)

    @app.exception_handler(APIConnectionError)
    async def upstream_down(request: Request, exc: APIConnectionError) -> JSONResponse:
        return JSONResponse({"error": "coupontools_unreachable"}, 503)

    @app.get("/cards")
    async def list_cards(ct: CoupontoolsClient) -> list[dict[str, Any]]:
        """The account's wallet loyalty cards."""
        cards = await ct.wallet_cards.list()
        return [{"id": c.id, "name": c.name, "type": c.type, "code": c.code} for c in cards]

    @app.post("/cards/{card_id}/users", status_code=201)
    async def create_user(card_id: int, user: NewUser, ct: CoupontoolsClient) -> dict[str, Any]:
        """Add a user to a wallet card; answers with the link to download the card."""
        created = await ct.wallet_users.create(card_id, **user.model_dump(exclude_none=True))
        return {"id": created.id, "code": created.code, "download_url": created.download_url}

    receiver = webhook_event(verify=verify_webhooks)

    @app.post("/webhooks/coupontools")
    async def receive_webhook(
        event: Annotated[WebhookEvent, Depends(receiver)],
    ) -> dict[str, str]:
        """Receive one Coupontools webhook (any 2xx acknowledges it)."""
        line = stats.record(event)
        return {"received": event.id, "summary": line}

    @app.get("/webhooks/stats")
    async def webhook_stats() -> dict[str, Any]:
        """What the webhook receiver has seen so far."""
        return stats.as_json()

    return app


def _default_factory() -> ClientFactory | None:
    if os.environ.get("COUPONTOOLS_SANDBOX"):
        from coupontools_async.sandbox import Sandbox

        # e.g. http://127.0.0.1:8000/webhooks/coupontools: the sandbox posts its events here
        hook_url = os.environ.get("COUPONTOOLS_SANDBOX_WEBHOOK_URL") or None
        return Sandbox.seeded(seed=1, sessions=100, webhook_url=hook_url).client
    return None


app = create_app(_default_factory())
"""The app uvicorn serves: credentials from the environment (or a sandbox)."""
