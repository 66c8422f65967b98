"""The FastAPI integration (shared client, webhook dependency) and the example app, on a Sandbox."""

# No `from __future__ import annotations`: FastAPI reads the test endpoints' annotations,
# some of which name locals.

import importlib.util
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import anyio
import anyio.lowlevel
import httpx
import pytest
import yaml
from fastapi import Depends, FastAPI, Request

from coupontools_async import AsyncClient
from coupontools_async.fastapi import (
    RAW_STATE_KEY,
    STATE_KEY,
    CoupontoolsClient,
    MemorySeenStore,
    VerifiedWebhookEvent,
    WebhookEventDep,
    coupontools_lifespan,
    get_client,
    webhook_event,
)
from coupontools_async.sandbox import Sandbox
from coupontools_async.webhooks import UnknownEvent, WebhookEvent

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent
SPEC = yaml.safe_load((ROOT / "spec" / "coupontools.yaml").read_text(encoding="utf-8"))
DOCUMENTED = {
    key: next(
        iter(item["post"]["requestBody"]["content"]["application/json"]["examples"].values())
    )["value"]
    for key, item in SPEC["webhooks"].items()
}


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Start ``app`` (its lifespan), give an HTTP client to it, then shut it down."""
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http,
    ):
        yield http


def _sandbox() -> Sandbox:
    sandbox = Sandbox(seed=7)
    sandbox.state.wallet.new_card(name="Coffee club", type="stamp", reward_name="Free coffee")
    return sandbox


async def _emit_event(sandbox: Sandbox) -> dict[str, Any]:
    """Make the sandbox emit a loyalty_v3_created event; the event as it would be posted."""
    card_id = next(iter(sandbox.state.wallet.cards))
    async with sandbox.client(max_retries=0) as ct:
        await ct.wallet_users.create(card_id, first_name="Ann")
    event: dict[str, Any] = json.loads(json.dumps(sandbox.state.events[-1]))
    return event


# ---------------------------------------------------------------------- shared client


def test_without_fastapi_the_module_says_how_to_install_it() -> None:
    code = (
        "import sys; sys.modules['fastapi'] = None\n"
        "try:\n"
        "    import coupontools_async.fastapi\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert "pip install 'coupontools-async[fastapi]'" in done.stdout


async def test_every_request_gets_the_one_client_which_is_closed_at_shutdown() -> None:
    seen: list[AsyncClient] = []
    app = FastAPI(lifespan=coupontools_lifespan(_sandbox().client))

    @app.get("/cards")
    async def cards(ct: CoupontoolsClient) -> list[str]:
        seen.append(ct)
        return [card.name or "" for card in await ct.wallet_cards.list()]

    @app.get("/plain")
    async def plain(ct: Annotated[AsyncClient, Depends(get_client)]) -> dict[str, bool]:
        seen.append(ct)
        return {"closed": ct.is_closed}

    async with running(app) as http:
        first = await http.get("/cards")
        second = await http.get("/plain")
        assert first.status_code == 200
        assert first.json() == ["Coffee club"]
        assert second.json() == {"closed": False}
        assert getattr(app.state, STATE_KEY) is seen[0]
    assert len(seen) == 2
    assert seen[0] is seen[1]
    assert seen[0].is_closed
    assert not hasattr(app.state, STATE_KEY)


async def test_without_a_factory_the_client_is_built_from_arguments_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox = _sandbox()
    app = FastAPI(
        lifespan=coupontools_lifespan(
            client_id=sandbox.client_id,
            client_secret=sandbox.client_secret,
            transport=sandbox.transport(),
        )
    )
    async with app.router.lifespan_context(app):
        client = getattr(app.state, STATE_KEY)
        assert isinstance(client, AsyncClient)
        assert [c.name for c in await client.wallet_cards.list()] == ["Coffee club"]
    assert client.is_closed

    monkeypatch.setenv("COUPONTOOLS_CLIENT_ID", "env-client-id-123")
    monkeypatch.setenv("COUPONTOOLS_CLIENT_SECRET", "env-client-secret-456")
    monkeypatch.setenv("COUPONTOOLS_BASE_URL", "https://ct.example.test")
    app = FastAPI(lifespan=coupontools_lifespan())
    async with app.router.lifespan_context(app):
        assert getattr(app.state, STATE_KEY).base_url == "https://ct.example.test"


def test_a_factory_and_client_arguments_together_are_refused() -> None:
    with pytest.raises(TypeError):
        coupontools_lifespan(Sandbox().client, max_retries=0)


async def test_the_apps_own_lifespan_runs_inside_with_the_client() -> None:
    order: list[str] = []

    @asynccontextmanager
    async def own(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        client = getattr(app.state, STATE_KEY)
        order.append(f"start, client open: {not client.is_closed}")
        yield {"answer": 42}
        order.append(f"stop, client open: {not client.is_closed}")

    app = FastAPI(lifespan=coupontools_lifespan(_sandbox().client, lifespan=own))
    async with app.router.lifespan_context(app) as state:
        assert state == {"answer": 42}
    assert order == ["start, client open: True", "stop, client open: True"]
    assert not hasattr(app.state, STATE_KEY)


async def test_the_client_dependency_explains_a_missing_lifespan() -> None:
    app = FastAPI()

    @app.get("/")
    async def index(ct: CoupontoolsClient) -> None:
        raise AssertionError("not reached")

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        with pytest.raises(RuntimeError, match="coupontools_lifespan"):
            await http.get("/")


# ---------------------------------------------------------------- webhook dependency


def _webhook_app(sandbox: Sandbox) -> FastAPI:
    app = FastAPI(lifespan=coupontools_lifespan(lambda: sandbox.client(max_retries=0)))

    @app.post("/hook")
    async def hook(event: WebhookEventDep, request: Request) -> dict[str, Any]:
        raw = getattr(request.state, RAW_STATE_KEY)
        return {"model": type(event).__name__, "id": event.id, "raw_keys": sorted(raw)}

    @app.post("/verified")
    async def verified(event: VerifiedWebhookEvent) -> dict[str, Any]:
        return {"model": type(event).__name__, "id": event.id, "type": event.type}

    @app.post("/small")
    async def small(
        event: Annotated[WebhookEvent, Depends(webhook_event(max_body_size=100))],
    ) -> str:
        return event.id

    return app


@pytest.mark.parametrize("key", sorted(DOCUMENTED))
async def test_documented_payloads_are_accepted_and_parsed(key: str) -> None:
    payload = DOCUMENTED[key]
    async with running(_webhook_app(_sandbox())) as http:
        answer = await http.post("/hook", json=payload)
    assert answer.status_code == 200
    schema = SPEC["webhooks"][key]["post"]["requestBody"]["content"]["application/json"]
    assert answer.json() == {
        "model": schema["schema"]["$ref"].rsplit("/", 1)[1],
        "id": payload["id"],
        "raw_keys": sorted(payload),
    }


async def test_an_unknown_type_is_accepted_as_an_unknown_event() -> None:
    async with running(_webhook_app(_sandbox())) as http:
        answer = await http.post("/hook", json={"id": "evt_x", "type": "brand_new"})
    assert answer.json()["model"] == UnknownEvent.__name__


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'{"type": "coupon_claimed"}',
        b'{"id": "evt_1", "type": "coupon_created"}',
        b'{"id": "evt_1", "type": "coupon_claimed", "datetime": "x"}',
        b"\xff\xfe\x00",
        b"[" * 50_000,
    ],
)
async def test_a_malformed_payload_gets_400_with_a_json_detail(body: bytes) -> None:
    async with running(_webhook_app(_sandbox())) as http:
        answer = await http.post(
            "/hook", content=body, headers={"content-type": "application/json"}
        )
    assert answer.status_code == 400
    detail = answer.json()["detail"]
    assert detail["error"] == "invalid_webhook"
    assert detail["message"].startswith("invalid")


async def test_an_oversized_body_gets_413() -> None:
    async with running(_webhook_app(_sandbox())) as http:
        answer = await http.post("/small", json=DOCUMENTED["coupon"])
        accepted = await http.post("/small", json={"id": "evt_1", "type": "x"})
    assert answer.status_code == 413
    assert answer.json()["detail"]["error"] == "payload_too_large"
    assert accepted.status_code == 200


async def test_an_oversized_streamed_body_gets_413_without_reading_it_all() -> None:
    # Raw ASGI (no Content-Length, the body in 64-byte messages): httpx's test transport
    # would leave its own upload generator unfinished when the app answers early.
    app = _webhook_app(_sandbox())
    chunk = {"type": "http.request", "body": b"x" * 64, "more_body": True}
    read = 0
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        read += 1
        return chunk if read < 100 else {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/small",
        "raw_path": b"/small",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"test"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1234),
        "server": ("test", 80),
    }
    async with app.router.lifespan_context(app):
        await app(scope, receive, send)
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 413
    assert read == 2  # 128 bytes read: past the 100-byte limit, no further


async def test_an_event_the_sandbox_does_not_know_gets_401_with_verify_on() -> None:
    async with running(_webhook_app(_sandbox())) as http:
        documented = await http.post("/verified", json=DOCUMENTED["loyalty_v3_created"])
        unverifiable = await http.post("/verified", json=DOCUMENTED["directory_registration"])
        unverified_but_parsed = await http.post("/hook", json=DOCUMENTED["loyalty_v3_created"])
    assert documented.status_code == 401
    assert documented.json()["detail"]["error"] == "unverified_webhook"
    assert unverifiable.status_code == 401
    assert unverified_but_parsed.status_code == 200


async def test_a_genuine_event_passes_verification() -> None:
    sandbox = _sandbox()
    event = await _emit_event(sandbox)
    async with running(_webhook_app(sandbox)) as http:
        tampered = await http.post(
            "/verified", json={**DOCUMENTED["coupon"], "id": event["id"]}
        )  # a genuine id on a forged payload, before the genuine one
        answer = await http.post("/verified", json=event)
    assert tampered.status_code == 401
    assert answer.status_code == 200
    assert answer.json() == {
        "model": "WalletUserCreatedEvent",
        "id": event["id"],
        "type": "loyalty_v3_created",
    }


def _counting_app(sandbox: Sandbox, handled: list[str], *, fail_first: bool = False) -> FastAPI:
    app = FastAPI(lifespan=coupontools_lifespan(lambda: sandbox.client(max_retries=0)))

    @app.post("/verified")
    async def verified(event: VerifiedWebhookEvent) -> dict[str, str]:
        handled.append(event.id)
        if fail_first and len(handled) == 1:
            raise RuntimeError("the route's database is down")
        return {"handled": event.id}

    return app


async def test_a_replayed_event_is_acknowledged_without_reaching_the_route_again() -> None:
    sandbox = _sandbox()
    event = await _emit_event(sandbox)
    handled: list[str] = []
    async with running(_counting_app(sandbox, handled)) as http:
        answers = [await http.post("/verified", json=event) for _ in range(5)]
        tampered_replay = await http.post(
            "/verified", json={**DOCUMENTED["coupon"], "id": event["id"]}
        )
    assert [a.status_code for a in answers] == [200] * 5
    assert answers[0].json() == {"handled": event["id"]}
    assert {a.json()["detail"]["status"] for a in answers[1:]} == {"duplicate"}
    assert tampered_replay.status_code == 401  # its id with another type: asked, and refused
    assert handled == [event["id"]]  # handed to the route once, whatever is posted again
    assert sandbox.calls.get("webhooks_verify", 0) == 2  # the repeats cost no call


async def test_concurrent_deliveries_of_one_event_reach_the_route_once() -> None:
    sandbox = _sandbox()
    event = await _emit_event(sandbox)
    handled: list[str] = []
    async with running(_counting_app(sandbox, handled)) as http:
        codes: list[int] = []

        async def post() -> None:
            codes.append((await http.post("/verified", json=event)).status_code)

        async with anyio.create_task_group() as tg:
            for _ in range(10):
                tg.start_soon(post)
    assert codes == [200] * 10
    assert handled == [event["id"]]


async def test_an_event_whose_route_failed_is_handled_when_redelivered() -> None:
    sandbox = _sandbox()
    event = await _emit_event(sandbox)
    handled: list[str] = []
    app = _counting_app(sandbox, handled, fail_first=True)
    async with running(app) as http:
        with pytest.raises(RuntimeError):
            await http.post("/verified", json=event)
        again = await http.post("/verified", json=event)
    assert again.status_code == 200
    assert again.json() == {"handled": event["id"]}
    assert handled == [event["id"], event["id"]]


async def test_made_up_ids_cost_one_verification_each_and_repeats_cost_none() -> None:
    sandbox = _sandbox()
    handled: list[str] = []
    async with running(_counting_app(sandbox, handled)) as http:
        forged = [{**DOCUMENTED["coupon"], "id": f"evt_MadeUp{n:014d}"} for n in range(20)]
        codes = [(await http.post("/verified", json=f)).status_code for f in forged * 3]
    assert codes == [401] * 60
    assert handled == []
    assert sandbox.calls.get("webhooks_verify", 0) == 20  # a refused id is not asked again


async def test_verification_calls_in_flight_are_bounded_per_app() -> None:
    in_flight = {"now": 0, "most": 0}
    gate = anyio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        in_flight["now"] += 1
        in_flight["most"] = max(in_flight["most"], in_flight["now"])
        await gate.wait()
        in_flight["now"] -= 1
        return httpx.Response(
            200,
            json={
                "status": {"status": "failed"},
                "errors": {"error_code": [509], "error_message_description": ["Webhook not found"]},
            },
        )

    app = FastAPI(
        lifespan=coupontools_lifespan(
            lambda: AsyncClient(
                "id",
                "secret",
                base_url="https://api.test",
                max_retries=0,
                transport=httpx.MockTransport(slow),
            )
        )
    )

    @app.post("/verified")
    async def verified(
        event: Annotated[WebhookEvent, Depends(webhook_event(verify=True, max_verifications=3))],
    ) -> str:
        return event.id

    codes: list[int] = []
    async with running(app) as http:

        async def post(n: int) -> None:
            payload = {**DOCUMENTED["coupon"], "id": f"evt_Flood{n:014d}"}
            codes.append((await http.post("/verified", json=payload)).status_code)

        async with anyio.create_task_group() as tg:
            for n in range(12):
                tg.start_soon(post, n)
            for _ in range(50):
                await anyio.lowlevel.checkpoint()
            assert in_flight["most"] == 3
            gate.set()
    assert codes == [401] * 12
    assert in_flight["most"] == 3


async def test_the_memory_seen_store_is_bounded_by_size_and_age() -> None:
    now = {"t": 0.0}
    store = MemorySeenStore(max_size=3, max_age=10.0, clock=lambda: now["t"])
    assert [await store.add(f"evt_{n}") for n in range(5)] == [True] * 5
    assert len(store) == 3
    assert not await store.seen("evt_0")  # the oldest went first
    assert await store.seen("evt_4")
    assert not await store.add("evt_4")
    now["t"] = 11.0
    assert not await store.seen("evt_4")  # too old: forgotten
    assert await store.add("evt_4")


@pytest.mark.parametrize("fault", ["500", "refuse"])
async def test_a_failing_verification_call_gets_502(fault: str) -> None:
    sandbox = _sandbox()
    event = await _emit_event(sandbox)
    sandbox.faults.inject(rate=1.0, kinds=[fault], routes=["webhooks_verify"])
    async with running(_webhook_app(sandbox)) as http:
        answer = await http.post("/verified", json=event)
    assert answer.status_code == 502
    assert answer.json()["detail"]["error"] == "verification_failed"


# ------------------------------------------------------------------------ example app


def _load_example() -> ModuleType:
    name = "coupontools_example_fastapi_app"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / "fastapi_app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


EXAMPLE = _load_example()
create_app: Callable[..., FastAPI] = EXAMPLE.create_app


def test_the_example_module_builds_its_app_without_credentials() -> None:
    assert isinstance(EXAMPLE.app, FastAPI)


async def test_example_lists_cards_and_creates_users_on_the_sandbox() -> None:
    sandbox = Sandbox.seeded(seed=2, sessions=10)
    app = create_app(sandbox.client)
    async with running(app) as http:
        cards = await http.get("/cards")
        assert cards.status_code == 200
        assert [c["name"] for c in cards.json()] == ["Coffee club", "Membership card", "VIP"]
        card_id = cards.json()[0]["id"]

        created = await http.post(
            f"/cards/{card_id}/users",
            json={"first_name": "Ann", "email": "ann@example.com", "phone": "+32470123456"},
        )
        assert created.status_code == 201
        body = created.json()
        user = sandbox.state.wallet.cards[card_id].users[body["id"]]
        assert (user.first_name, user.email) == ("Ann", "ann@example.com")
        assert body["download_url"] == user.download_url

        bad_phone = await http.post(f"/cards/{card_id}/users", json={"phone": "0470 12 34 56"})
        assert bad_phone.status_code == 422
        assert bad_phone.json()["param"] == "phone"
        missing = await http.post("/cards/999999/users", json={"first_name": "Bo"})
        assert missing.status_code == 404


async def test_example_receiver_verifies_and_counts_sandbox_events() -> None:
    sandbox = _sandbox()
    app = create_app(lambda: sandbox.client(max_retries=0))
    async with running(app) as http:
        card_id = next(iter(sandbox.state.wallet.cards))
        created = await http.post(f"/cards/{card_id}/users", json={"first_name": "Ann"})
        assert created.status_code == 201
        event = json.loads(json.dumps(sandbox.state.events[-1]))

        genuine = await http.post("/webhooks/coupontools", json=event)
        assert genuine.status_code == 200
        assert genuine.json()["received"] == event["id"]
        assert genuine.json()["summary"] == (
            f"wallet user {created.json()['id']} joined card {card_id}"
        )

        forged = await http.post("/webhooks/coupontools", json=DOCUMENTED["coupon"])
        assert forged.status_code == 401
        malformed = await http.post("/webhooks/coupontools", content=b"{oops")
        assert malformed.status_code == 400

        stats = (await http.get("/webhooks/stats")).json()
    assert stats["by_type"] == {"loyalty_v3_created": 1}
    assert stats["new_wallet_users"] == {str(card_id): 1}


async def test_the_sandbox_can_deliver_its_webhooks_straight_into_the_example_app() -> None:
    sandbox = _sandbox()
    app = create_app(lambda: sandbox.client(max_retries=0))
    answers: list[int] = []
    async with running(app) as http:

        async def deliver(event: dict[str, Any]) -> None:
            answer = await http.post("/webhooks/coupontools", json=event)
            answers.append(answer.status_code)

        sandbox.on_webhook = deliver
        card_id = next(iter(sandbox.state.wallet.cards))
        for name in ("Ann", "Bo", "Cy"):
            assert (
                await http.post(f"/cards/{card_id}/users", json={"first_name": name})
            ).is_success
        stats = (await http.get("/webhooks/stats")).json()
    assert answers == [200, 200, 200]
    assert stats["by_type"] == {"loyalty_v3_created": 3}


async def test_example_receiver_does_something_with_every_event_type() -> None:
    app = create_app(_sandbox().client, verify_webhooks=False)
    unknown = {"id": "evt_new", "datetime": "2024-01-01 00:00:00", "type": "coupon_edit_x"}
    future = {"id": "evt_new2", "type": "wallet_pass_deleted", "pass": 3}
    async with running(app) as http:
        summaries = {}
        for key, payload in DOCUMENTED.items():
            answer = await http.post("/webhooks/coupontools", json=payload)
            assert answer.status_code == 200, key
            summaries[key] = answer.json()["summary"]
        validated = {**DOCUMENTED["coupon"], "type": "coupon_validated"}
        assert (await http.post("/webhooks/coupontools", json=validated)).status_code == 200
        assert (await http.post("/webhooks/coupontools", json=unknown)).status_code == 200
        assert (await http.post("/webhooks/coupontools", json=future)).status_code == 200
        stats = (await http.get("/webhooks/stats")).json()
    assert summaries == {
        "coupon": "coupon_claimed on cam_12345 (session 2e8g45wmyawppwubnk5r7) by info@email.com",
        "coupon_created": "coupon cam_1026090 created in sub_3427",
        "subaccount_created": "subaccount sub_3427 created for Company name",
        "loyalty_complete": "web loyalty card loy_1037746 completed (97raebv4nkcpjj1i444zh)",
        "loyalty_v3_created": "wallet user 1 joined card 1",
        "lp_submission": "landing page lp_12345 submitted, coupon cam_1234567",
        "directory_registration": "directory registration of user 5025",
    }
    assert stats["by_type"]["coupon_claimed"] == 1
    assert stats["by_type"]["coupon_validated"] == 1
    assert stats["by_type"]["coupon_edit_x"] == 1  # a coupon_* type: a CouponEvent
    assert stats["by_type"]["wallet_pass_deleted"] == 1
    assert stats["coupon_activity"] == {
        "cam_12345 coupon_claimed": 1,
        "cam_12345 coupon_validated": 1,
        "? coupon_edit_x": 1,
    }
    assert stats["leads_by_source"] == {"examplesource": 1}
    assert stats["recent"][-1] == "unknown event type 'wallet_pass_deleted' (3 fields)"
