"""Whatever the server answers, a call gives a model or a ``CoupontoolsError``: nothing else.

Property tests over every operation of the spec, any HTTP status, the headers the
response path reads (content type and charset, Retry-After, request id) and any body:
raw bytes, any JSON, truncated JSON, v3 envelopes with random ``status`` and ``errors``
shapes, and payloads that use the response model's own field names with values of
any type. Every answer goes through the real client (``AsyncClient`` over an
``httpx.MockTransport``, driven synchronously with ``anyio.run``), so what is checked
is exactly what a caller sees: ``decode``, ``structure`` and the wrapping around them
in ``AsyncClient.request``, plus the retry layer in the sequence property.
"""

from __future__ import annotations

import enum
import functools
import json
import types
import typing
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from typing import Any

import anyio
import attrs
import httpx
import pytest
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from coupontools_async import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AsyncClient,
    CoupontoolsError,
    RetryEvent,
    RetryPolicy,
)
from coupontools_async._envelope import is_v3_failure, parse_retry_after
from coupontools_async._generated import OPERATIONS, Operation, api
from coupontools_async._generated.groups import GROUPS
from tests._samples import call_arguments, minimal_answer

CLIENT_ID = "cid-RELIABILITY-props-4b1e"
CLIENT_SECRET = "csecret-RELIABILITY-props-8c2d"
BASE = "https://api.test"
OPERATION_IDS = sorted(OPERATIONS)
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
PROPERTY = settings(
    max_examples=1000, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


# ------------------------------------------------------------------------- strategies

TRICKY_TEXTS = (
    "",
    " ",
    "0",
    "1",
    "8",
    " 8 ",
    "1.0",
    "1.9",
    "-1",
    "true",
    "no",
    "maybe",
    "0000-00-00",
    "0000-00-00 00:00:00",
    "2024-01-31",
    "2024-01-31 10:00:00",
    "2024-01-31T10:00:00Z",
    "2024-01-31 10:00:00 UTC",
    "31/01/2024 10:00",
    "31/01/2024",
    "2024-02-30",
    "9999-99-99",
    "OK",
    "failed",
    "NaN",
    "Infinity",
    "1e400",
    "9" * 40,
    "HTTP/1.0 401 Unauthorized. Client ID or Secret not correct.",
    "HTTP/1.0 422 Unprocessable entity.",
    "HTTP/1.1 503",
    "<html><body>Oops</body></html>",
    "\x00",
    "\ud800",
    "é" * 400,
)
KEYS = (
    "status",
    "errors",
    "error_code",
    "error_message",
    "error_message_description",
    "code",
    "message",
    "description",
    "detail",
    "error",
    "msg",
    "title",
    "id",
    "data",
)
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(max_size=30),
    st.sampled_from(TRICKY_TEXTS),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=12), children, max_size=4),
    ),
    max_leaves=16,
)
field_json = st.one_of(  # a wrong-typed field value: lighter than json_values, drawn often
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), scalars, max_size=3),
)
codes = st.one_of(
    st.integers(min_value=-5, max_value=1100),
    st.sampled_from(
        [1000, 101, 102, 103, 104, 200, 300, 304, 349, 351, 360, 404, 429, 500, 502, 507, 601]
    ),
    st.lists(st.integers(min_value=0, max_value=1100), max_size=4),
    st.text("0123456789, ", max_size=12),
    st.floats(),
    json_values,
)
error_texts = st.one_of(
    st.text(max_size=60),
    st.sampled_from(TRICKY_TEXTS),
    st.lists(st.text(max_size=30), max_size=4),
    json_values,
)
error_items = st.fixed_dictionaries(
    {},
    optional={
        "error_code": codes,
        "error_message": error_texts,
        "error_message_description": error_texts,
        "code": codes,
        "message": error_texts,
        "description": error_texts,
    },
)
errors_shapes = st.one_of(error_items, st.lists(error_items | error_texts, max_size=4), json_values)
status_words = st.sampled_from(
    ["OK", "ok", " Ok ", "success", "SUCCESS", "failed", "FAILED", "fail", "error", "pending", ""]
) | st.text(max_size=10)
status_shapes = st.one_of(
    st.fixed_dictionaries(
        {"status": status_words | json_values}, optional={"errors": errors_shapes}
    ),
    st.fixed_dictionaries({}, optional={"errors": errors_shapes}),
    status_words,
    json_values,
)
statuses = st.one_of(
    st.sampled_from([200, 200, 201, 204, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503, 504]),
    st.integers(min_value=100, max_value=599),
)
content_types = (
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "application/json; charset=no-such-codec",
            "text/html; charset=UTF-8",
            "text/plain; charset=latin-1",
            "image/png",
            "",
        ]
    )
    | header_text
)
retry_afters = (
    st.sampled_from(
        ["0", "1", "0.5", "-1", "30", "3600", "1e309", "nan", "Wed, 21 Oct 2015 07:28:00 GMT", ""]
    )
    | header_text
)
headers = st.fixed_dictionaries(
    {},
    optional={
        "content-type": content_types,
        "retry-after": retry_afters,
        "x-request-id": header_text,
    },
)
EDGE_BODIES = (
    b"",
    b" ",
    b"null",
    b"[]",
    b"{}",
    b'""',
    b"0",
    b"1" * 5000,  # more digits than int() accepts
    b"[" * 100_000,  # nesting deeper than the parser's recursion limit
    b"[" * 500 + b"]" * 500,
    b'{"status": ' * 300 + b"1" + b"}" * 300,
    b"\xff\xfe\x00{",
    b"\x89PNG\r\n\x1a\n",
    b"<html><head><script>var s='</html>",
    b'{"status": {"status": "OK"}}',
    b'{"status": {"status": "failed"}}',
    b'{"status": "failed", "errors": null}',
    b'{"status": {"errors": []}}',
)


def _members(tp: Any) -> tuple[Any, ...]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return typing.get_args(tp)
    return (tp,)


@functools.cache
def _object_for(cls: type[Any], depth: int) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts with ``cls``'s wire names, each holding a value of its type or of any other."""
    hints = typing.get_type_hints(cls)
    fields = {
        field.metadata.get("wire", field.name): _value_for(hints[field.name], depth)
        for field in attrs.fields(cls)
    }
    return st.fixed_dictionaries({}, optional=fields)


def _value_for(tp: Any, depth: int) -> st.SearchStrategy[Any]:
    options: list[st.SearchStrategy[Any]] = [field_json]
    for member in _members(tp):
        origin = typing.get_origin(member)
        if origin is list:
            (item,) = typing.get_args(member) or (Any,)
            if attrs.has(item) and depth < 2:
                inner = _object_for(item, depth + 1)
                options.append(st.lists(inner, max_size=3))
                options.append(st.dictionaries(st.sampled_from(["0", "1", "2"]), inner))
        elif attrs.has(member) and depth < 2:
            options.append(_object_for(member, depth + 1))
        elif member is bool:
            options.append(st.sampled_from([True, False, 0, 1, 2, "1", "0", "yes", "", "maybe"]))
        elif member is int or member is float:
            options.append(st.integers(min_value=-(2**70), max_value=2**70))
            options.append(st.sampled_from(["8", " 8 ", "1.0", "1.9", "", "x", 1.5, 2.0]))
        elif member in (datetime, date):
            options.append(st.sampled_from(TRICKY_TEXTS))
            options.append(st.datetimes().map(str))
            options.append(st.integers(min_value=-(10**13), max_value=10**13) | st.floats())
        elif isinstance(member, type) and issubclass(member, enum.Enum):
            options.append(st.sampled_from([m.value for m in member]))
        elif member is str:
            options.append(st.text(max_size=20))
    return st.one_of(options)


@functools.cache
def payloads(op_id: str) -> st.SearchStrategy[Any]:
    """What the operation's response model looks like on the wire, with values of any type."""
    tp = OPERATIONS[op_id].response_type
    if typing.get_origin(tp) is list:
        (item,) = typing.get_args(tp)
        inner = _object_for(item, 0)
        return st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["0", "1"]), inner)
    if attrs.has(tp):
        return _object_for(tp, 0)
    return json_values


def _dumps(value: Any, ascii_only: bool) -> bytes:
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


@attrs.frozen
class Answer:
    """One HTTP answer (what the mocked server sends)."""

    status: int
    headers: dict[str, str]
    content: bytes

    def response(self) -> httpx.Response:
        # A stream, so the client reads (and decodes) the body as it would off the wire.
        return httpx.Response(
            self.status, headers=self.headers, stream=httpx.ByteStream(self.content)
        )


@functools.cache
def bodies(op_id: str) -> st.SearchStrategy[bytes]:
    """:func:`_bodies` for one operation, built once."""
    return _bodies(OPERATIONS[op_id])


@st.composite
def _bodies(draw: st.DrawFn, op: Operation[Any]) -> bytes:
    """Any body: bytes, JSON, a v3 envelope around the model's fields, a cut JSON, edge cases."""
    shape = draw(st.sampled_from(["bytes", "json", "envelope", "payload", "truncated", "edge"]))
    ascii_only = draw(st.booleans())
    if shape == "bytes":
        return draw(st.binary(max_size=300))
    if shape == "edge":
        return draw(st.sampled_from(EDGE_BODIES))
    if shape == "json":
        return _dumps(draw(json_values), ascii_only)
    document = draw(payloads(op.id))
    if shape == "envelope" or (shape == "payload" and op.api_version == "v3"):
        if not isinstance(document, dict):
            document = {"data": document}
        if shape == "payload":
            document = {"status": {"status": "OK"}, **document}
        else:
            document["status"] = draw(status_shapes)
            if draw(st.booleans()):
                document["errors"] = draw(errors_shapes)
    content = _dumps(document, ascii_only)
    if shape == "truncated":
        content = content[: draw(st.integers(min_value=0, max_value=max(0, len(content) - 1)))]
    return content


@st.composite
def calls(draw: st.DrawFn) -> tuple[str, Answer]:
    """An operation and one answer to it."""
    op_id = draw(st.sampled_from(OPERATION_IDS))
    answer = Answer(draw(statuses), draw(headers), draw(bodies(op_id)))
    return op_id, answer


@st.composite
def successes(draw: st.DrawFn) -> tuple[str, Answer]:
    """A 2xx answer whose body is the operation's model (in its v3 OK envelope) with any values."""
    op_id = draw(st.sampled_from(OPERATION_IDS))
    op = OPERATIONS[op_id]
    document = draw(payloads(op_id))
    if op.api_version == "v3":
        status_field = draw(st.sampled_from(["OK", "ok", "success", " OK "]))
        document = {
            **(document if isinstance(document, dict) else {"data": document}),
            "status": {"status": status_field},
        }
    content = _dumps(document, draw(st.booleans()))
    status = draw(st.sampled_from([200, 200, 200, 201, 202]))
    kind = draw(st.sampled_from(["application/json", "application/json; charset=utf-8", ""]))
    return op_id, Answer(status, {"content-type": kind} if kind else {}, content)


TRANSPORT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.ReadTimeout,
    httpx.RemoteProtocolError,
    httpx.ReadError,
)


FAILED_V3 = _dumps(
    {"status": {"status": "failed"}, "errors": {"error_code": [502], "error_message": "x"}}, True
)


@functools.cache
def attempts(op_id: str) -> st.SearchStrategy[Answer | type[httpx.TransportError]]:
    """One attempt's fate: an answer (often retryable, with any Retry-After) or a network error."""
    good = minimal_answer(OPERATIONS[op_id])
    good_content = good["content"] if "content" in good else _dumps(good["json"], True)
    good_headers = dict(good.get("headers", {}))
    answers = st.builds(
        Answer,
        st.sampled_from([200, 408, 429, 500, 502, 503, 504, 400, 404, 409]) | statuses,
        st.fixed_dictionaries({}, optional={"retry-after": retry_afters}),
        st.sampled_from([good_content, FAILED_V3, b"", b"<html>busy</html>", b"{}", b"[{"]),
    ).map(lambda a: attrs.evolve(a, headers={**good_headers, **a.headers}))
    return answers | st.sampled_from(TRANSPORT_ERRORS)


@st.composite
def sequences(draw: st.DrawFn) -> tuple[str, list[Answer | type[httpx.TransportError]]]:
    """An operation and the answers (or network failures) to its successive attempts."""
    op_id = draw(st.sampled_from(OPERATION_IDS))
    return op_id, draw(st.lists(attempts(op_id), min_size=1, max_size=6))


# --------------------------------------------------------------------------- driving


async def _no_sleep(_: float) -> None:
    await anyio.lowlevel.checkpoint()


@functools.cache
def _method(op_id: str) -> tuple[Callable[..., Awaitable[Any]], list[Any], dict[str, Any]]:
    """The generated method of the operation (called on a client), and valid arguments for it."""
    op = OPERATIONS[op_id]
    positional, kwargs, _ = call_arguments(op)
    resource = getattr(getattr(api, op.group), GROUPS[op.group][1])
    name = op.id[len(op.group) + 1 :]

    async def function(ct: Any, *args: Any, **kw: Any) -> Any:
        return await getattr(resource(ct), name)(*args, **kw)

    return function, positional, kwargs


def call_through_client(
    op_id: str,
    handler: Callable[[httpx.Request], httpx.Response],
    *,
    max_retries: int = 0,
    on_retry: Callable[[RetryEvent], Any] | None = None,
) -> Any:
    """Call the operation with valid arguments on a client whose server is ``handler``."""
    function, positional, kwargs = _method(op_id)

    async def main() -> Any:
        async with AsyncClient(
            CLIENT_ID,
            CLIENT_SECRET,
            base_url=BASE,
            transport=httpx.MockTransport(handler),
            max_retries=max_retries,
            retry=RetryPolicy(sleep=_no_sleep),
            on_retry=on_retry,
        ) as ct:
            return await function(ct, *positional, **kwargs)

    return anyio.run(main)


def assert_is_the_declared_result(op: Operation[Any], result: Any) -> None:
    """What the method's signature promises: a model, a list of models, bytes or None."""
    if op.response_kind == "binary":
        assert isinstance(result, bytes), result
        assert result
    elif op.response_kind == "empty":
        assert result is None
    elif typing.get_origin(op.response_type) is list:
        (item,) = typing.get_args(op.response_type)
        assert isinstance(result, list), f"{op.id} gave {result!r}"
        assert all(isinstance(x, item) for x in result), f"{op.id} gave {result!r}"
    else:
        assert isinstance(result, op.response_type), f"{op.id} gave {result!r}"


def assert_is_a_clean_error(exc: CoupontoolsError) -> None:
    """Its text and repr can be taken, and it names no credential."""
    text = f"{exc}\n{exc!r}\n{vars(exc)!r}"
    assert CLIENT_ID not in text
    assert CLIENT_SECRET not in text


def outcome(
    op_id: str, handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any
) -> Any | CoupontoolsError:
    """The result of the call, or the CoupontoolsError it raised (anything else propagates)."""
    try:
        result = call_through_client(op_id, handler, **kwargs)
    except CoupontoolsError as exc:
        assert_is_a_clean_error(exc)
        _event(f"raised {type(exc).__name__}")
        return exc
    _event("gave a result")
    return result


def _event(name: str) -> None:
    """Count outcomes (``--hypothesis-show-statistics``) when inside a property."""
    if currently_in_test_context():
        event(name)


# -------------------------------------------------------------------------- properties


@PROPERTY
@given(calls())
def test_any_answer_gives_the_declared_model_or_an_api_error(call: tuple[str, Answer]) -> None:
    op_id, answer = call
    op = OPERATIONS[op_id]
    result = outcome(op_id, lambda _: answer.response())
    if isinstance(result, CoupontoolsError):
        # The server answered: whatever went wrong is the server's answer, typed.
        assert isinstance(result, APIError), repr(result)
        assert result.status_code == answer.status
    else:
        assert 200 <= answer.status < 300 or op.api_version == "v3", (answer, result)
        assert_is_the_declared_result(op, result)


@PROPERTY
@given(successes())
def test_model_shaped_answers_with_values_of_any_type_give_the_model_or_an_api_error(
    call: tuple[str, Answer],
) -> None:
    op_id, answer = call
    op = OPERATIONS[op_id]
    result = outcome(op_id, lambda _: answer.response())
    if isinstance(result, CoupontoolsError):
        assert isinstance(result, APIError), repr(result)
    else:
        assert_is_the_declared_result(op, result)


@PROPERTY
@given(sequences())
def test_retried_answers_end_in_a_model_or_a_coupontools_error_within_the_retry_budget(
    call: tuple[str, Sequence[Answer | type[httpx.TransportError]]],
) -> None:
    op_id, attempts = call
    op = OPERATIONS[op_id]
    max_retries = 3
    sent: list[Answer | type[httpx.TransportError]] = []
    events: list[RetryEvent] = []

    def handler(request: httpx.Request) -> httpx.Response:
        step = attempts[min(len(sent), len(attempts) - 1)]
        sent.append(step)
        if isinstance(step, Answer):
            return step.response()
        raise step("sandbox-free failure", request=request)

    result = outcome(op_id, handler, max_retries=max_retries, on_retry=events.append)

    assert 1 <= len(sent) <= max_retries + 1
    assert len(events) == len(sent) - 1
    for step in sent[:-1]:  # every attempt that was followed by another one
        if isinstance(step, Answer):
            assert step.status in RETRY_STATUSES
            assert not is_v3_failure(step.content)
            if not op.idempotent:  # a write is repeated only if it cannot have happened
                retry_after = parse_retry_after(step.headers.get("retry-after"))
                assert step.status == 429 or (step.status == 503 and retry_after is not None)
        elif not op.idempotent:
            assert step in (httpx.ConnectError, httpx.ConnectTimeout)
    last = sent[-1]
    if isinstance(result, CoupontoolsError):
        if isinstance(last, Answer):
            assert isinstance(result, APIError), repr(result)
        elif last in (httpx.ConnectTimeout, httpx.ReadTimeout):
            assert isinstance(result, APITimeoutError), repr(result)
        else:
            assert isinstance(result, APIConnectionError), repr(result)
    else:
        assert isinstance(last, Answer)
        assert_is_the_declared_result(op, result)


# ----------------------------------------------------- the cases the properties found


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_body_that_does_not_match_its_content_encoding_is_an_api_error(encoding: str) -> None:
    # A proxy or a broken server says gzip and sends plain JSON: httpx cannot decode it.
    answer = Answer(200, {"content-encoding": encoding, "content-type": "application/json"}, b"[]")
    result = outcome("wallet_cards_list", lambda _: answer.response())
    assert isinstance(result, APIError), repr(result)


@pytest.mark.parametrize("body", [b"[]", b'""'])
def test_an_empty_php_array_for_a_single_v4_model_is_an_api_error_not_none(body: bytes) -> None:
    # ``wallet_users.get`` is typed to return a WalletUser; ``[]`` must not become None.
    answer = Answer(200, {"content-type": "application/json"}, body)
    result = outcome("wallet_users_get", lambda _: answer.response())
    assert isinstance(result, APIError), repr(result)
