"""Turn an HTTP answer into a payload, or into the matching :class:`~.errors.APIError`.

v3 answers wrap their payload in ``{"status": {"status": "OK"}, ...}`` and report a
failure in that envelope, in three documented shapes, whatever the HTTP status
(FACTS.md, "v3 response envelope"). v4 answers are plain JSON and fail by HTTP status.

Error texts are built from the operation, the status line and the server's own
error texts only: never from request headers, the query string or the request body.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

import httpx

from ._kernel import Operation
from ._wire import json_loads, parse_retry_after
from .errors import (
    APIError,
    RateLimitError,
    class_for_code,
    class_for_status,
)

__all__ = ["decode", "decode_any", "error_from_status", "is_v3_failure", "parse_retry_after"]

_EXCERPT_LIMIT = 200
_TEXT_LIMIT = 300
_MAX_SHOWN = 5
_MAX_MESSAGES = 50
_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-amzn-requestid", "cf-ray")

_OK_WORDS = frozenset({"ok", "success"})
_FAILED_WORDS = frozenset({"failed", "fail", "error"})
_OK = "ok"
_FAILED = "failed"

_json_loads = json_loads  # a module attribute, so a test can count the parses

_NOT_JSON: Any = object()
"""What :func:`_loads` answers for a body that is not JSON (``None`` is valid JSON)."""

# v3 error_message texts start with a status line ("HTTP/1.0 401 Unauthorized. ...").
_STATUS_LINE = re.compile(r"\s*HTTP/\d(?:\.\d)?\s+(\d{3})\b[^.]*\.?\s*")
_FAIL_HINT = re.compile(rb"(?i)fail|error")
_CODE_LIST = re.compile(r"\s*\d+(?:\s*,\s*\d+)*\s*")
# A cut prefix may end inside a <script>, so an unterminated block runs to the end.
_HTML_BLOCKS = re.compile(r"(?is)<(script|style)\b.*?(?:</\1\s*>|\Z)|<!--.*?(?:-->|\Z)")
_HTML_TAG = re.compile(r"<[^>]*(?:>|\Z)")
_IMAGE_MAGIC = (b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"RIFF", b"II*\x00", b"MM\x00*", b"BM")


# ------------------------------------------------------------------------------ public


def decode(op: Operation[Any], response: httpx.Response) -> Any:
    """The payload of a successful answer (v3 envelope unwrapped), or raise its APIError.

    ``json`` operations give the parsed JSON, ``binary`` ones the bytes and ``empty``
    ones None. The response body must already be read.
    """
    kind = op.response_kind
    if kind == "binary":
        return _decode_binary(op, response)
    if kind == "empty":
        _check_empty(op, response)
        return None
    data = _loads(response.content)
    if data is _NOT_JSON:
        raise _not_json_error(op, response, response.content)
    return _payload(op, response, data)


def decode_any(op: Operation[Any], response: httpx.Response) -> Any:
    """What ``ct.request`` returns: like :func:`decode` for JSON, but a successful answer
    that is not JSON (an image, a CSV, an empty body) is returned as its bytes."""
    data = _loads(response.content)
    if data is _NOT_JSON:
        if 200 <= response.status_code < 300:
            return response.content
        raise _not_json_error(op, response, response.content)
    return _payload(op, response, data)


def _payload(op: Operation[Any], response: httpx.Response, data: Any) -> Any:
    ok_status = 200 <= response.status_code < 300
    if isinstance(data, dict):
        v3 = op.api_version == "v3"
        state = _envelope_state(data, v3=v3)
        # v3: the envelope decides, whatever the HTTP status (FACTS.md).
        if state is _OK and (v3 or ok_status):
            del data["status"]
            return data
        if state is _FAILED:
            raise _v3_error(op, response, data)
    if ok_status:
        return data
    raise _status_error(op, response, data)


def is_v3_failure(body: bytes) -> bool:
    """True when ``body`` is a v3 ``failed`` envelope. Never raises."""
    try:
        if not body or not _FAIL_HINT.search(body):
            return False
        data = json.loads(body)
        return isinstance(data, dict) and _envelope_state(data, v3=False) is _FAILED
    except Exception:  # the retry layer calls this on arbitrary bytes
        return False


def error_from_status(
    op: Operation[Any], response: httpx.Response, message: str | None = None
) -> APIError:
    """The APIError for ``response``'s HTTP status (RateLimitError, ServerError, ...).

    ``message`` replaces the detail taken from the body. Without ``message``, a v3
    ``failed`` envelope in the body wins: its codes choose the class.
    """
    try:
        content: bytes | None = response.content
    except httpx.ResponseNotRead:  # a streamed answer the caller gave up on
        content = None
    data = _loads(content) if content is not None else _NOT_JSON
    if data is _NOT_JSON:
        return _not_json_error(op, response, content, detail=message)
    v3 = op.api_version == "v3"
    if message is None and isinstance(data, dict) and _envelope_state(data, v3=v3) is _FAILED:
        return _v3_error(op, response, data)
    return _status_error(op, response, data, detail=message)


# ------------------------------------------------------------------------- by kind


def _decode_binary(op: Operation[Any], response: httpx.Response) -> bytes:
    content = response.content
    if not 200 <= response.status_code < 300:
        raise error_from_status(op, response)
    if not content:
        raise _build(APIError, op, response, "the answer holds no image (empty answer)")
    media = _media_type(response)
    if "json" in media or content.lstrip()[:1] == b"{":
        data = _loads(content)
        if isinstance(data, dict) and _envelope_state(data, v3=True) is _FAILED:
            raise _v3_error(op, response, data)
        if data is not _NOT_JSON:
            raise _build(APIError, op, response, "the answer holds no image (JSON came back)")
        if "json" in media:
            raise _not_json_error(op, response, content, detail="the answer holds no image")
    if media == "text/html" and not _looks_like_image(content):
        # Not an image whatever PHP's default content type says: a login or error page.
        raise _build(
            APIError,
            op,
            response,
            "the answer holds no image (text/html came back)",
            body=_excerpt(response, content),
        )
    return content


def _check_empty(op: Operation[Any], response: httpx.Response) -> None:
    if not 200 <= response.status_code < 300:
        raise error_from_status(op, response)
    content = response.content
    if content.lstrip()[:1] == b"{":
        data = _loads(content)
        if isinstance(data, dict) and _envelope_state(data, v3=True) is _FAILED:
            raise _v3_error(op, response, data)


# ------------------------------------------------------------------------- envelope


def _loads(content: bytes) -> Any:
    try:
        return _json_loads(content)
    except (ValueError, RecursionError):
        return _NOT_JSON


def _envelope_state(data: dict[str, Any], *, v3: bool) -> str | None:
    """``_OK``, ``_FAILED`` or None (no envelope recognised).

    For v3 any envelope that does not say OK is a failure; elsewhere only one that
    says failed, since v4 objects have a ``status`` field of their own.
    """
    envelope = data.get("status")
    if isinstance(envelope, dict):
        state = envelope.get("status")
        if isinstance(state, str):
            word = state.strip().lower()
            if word in _OK_WORDS:
                return _OK
            if v3 or word in _FAILED_WORDS:
                return _FAILED
            return None
        if "errors" in envelope or "errors" in data:
            return _FAILED
        return None
    if isinstance(envelope, str):
        word = envelope.strip().lower()
        if v3 and word in _OK_WORDS:
            return _OK
        if word in _FAILED_WORDS and (v3 or "errors" in data):
            return _FAILED
    return None


def _v3_error(op: Operation[Any], response: httpx.Response, data: dict[str, Any]) -> APIError:
    envelope = data.get("status")
    errors = envelope.get("errors") if isinstance(envelope, dict) else None
    if errors is None:
        errors = data.get("errors")
    codes: list[int] = []
    descriptions: list[str] = []
    summaries: list[str] = []
    _read_errors(errors, codes, descriptions, summaries)
    summary = summaries[0] if summaries else None
    messages = descriptions or ([summary] if summary else [])

    cls = _class_for_codes(op, codes)
    if cls is None:
        status = response.status_code
        if status < 400 and summary:
            # A failure on HTTP 200: the status line inside error_message is the best hint.
            match = _STATUS_LINE.match(summary)
            status = int(match.group(1)) if match else status
        cls = class_for_status(status) or APIError
    return _build(
        cls,
        op,
        response,
        _describe_v3(codes, descriptions, summary),
        codes=codes,
        messages=messages,
    )


def _read_errors(
    errors: Any, codes: list[int], descriptions: list[str], summaries: list[str]
) -> None:
    if isinstance(errors, dict):
        codes += _codes(errors.get("error_code", errors.get("code")))
        descriptions += _texts(errors.get("error_message_description", errors.get("description")))
        summaries += _texts(errors.get("error_message", errors.get("message")))
    elif isinstance(errors, list):
        for item in errors[:_MAX_MESSAGES]:
            if isinstance(item, dict):
                item_descriptions: list[str] = []
                item_summaries: list[str] = []
                _read_errors(item, codes, item_descriptions, item_summaries)
                descriptions += item_descriptions or item_summaries
            else:
                descriptions += _texts(item)
    else:
        summaries += _texts(errors)


def _codes(value: Any) -> list[int]:
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, float):
        return [int(value)] if value.is_integer() else []
    if isinstance(value, str):
        return [int(n) for n in re.findall(r"\d+", value)] if _CODE_LIST.fullmatch(value) else []
    if isinstance(value, list):
        return [code for item in value[:_MAX_MESSAGES] for code in _codes(item)]
    return []


def _texts(value: Any) -> list[str]:
    if value is None or isinstance(value, bool):
        return []
    if isinstance(value, (str, int, float)):
        text = _clean(str(value))
        return [text] if text else []
    if isinstance(value, list):
        return [text for item in value[:_MAX_MESSAGES] for text in _texts(item)]
    if isinstance(value, dict):
        return [text for item in list(value.values())[:_MAX_MESSAGES] for text in _texts(item)]
    return []


def _describe_v3(codes: list[int], descriptions: list[str], summary: str | None) -> str:
    if codes and descriptions:
        parts = [
            f"{code} {_display(text)}" for code, text in zip(codes, descriptions, strict=False)
        ]
        parts += [str(code) for code in codes[len(descriptions) :]]
        parts += [_display(text) for text in descriptions[len(codes) :]]
    elif codes:
        head = ", ".join(str(code) for code in codes)
        parts = [f"{head} {_display(summary)}" if summary else head]
    elif descriptions:
        parts = [_display(text) for text in descriptions]
    elif summary:
        parts = [_display(summary)]
    else:
        parts = ["the server answered failed without details"]
    if len(parts) > _MAX_SHOWN:
        parts = [*parts[:_MAX_SHOWN], f"and {len(parts) - _MAX_SHOWN} more"]
    return "; ".join(parts)


def _display(text: str) -> str:
    """A server text for a message: no leading status line, no final period."""
    match = _STATUS_LINE.match(text)
    if match and match.end() < len(text):
        text = text[match.end() :]
    return text[:-1] if text.endswith(".") and len(text) > 1 else text


# ------------------------------------------------------------------- HTTP status


def _class_for_codes(op: Operation[Any], codes: list[int]) -> type[APIError] | None:
    # The first code the table knows decides; unknown codes fall back to the HTTP status.
    for code in codes:
        cls = class_for_code(code, op.error_classes)
        if cls is not None:
            return cls
    return None


def _status_error(
    op: Operation[Any], response: httpx.Response, data: Any, *, detail: str | None = None
) -> APIError:
    messages = _json_messages(data)
    if detail is None and messages:
        shown = messages[:_MAX_SHOWN]
        if len(messages) > _MAX_SHOWN:
            shown.append(f"and {len(messages) - _MAX_SHOWN} more")
        detail = "; ".join(shown)
    head = _status_line(response)
    text = f"{head}: {detail}" if detail else head
    return _build(
        class_for_status(response.status_code) or APIError,
        op,
        response,
        text,
        messages=messages,
    )


def _not_json_error(
    op: Operation[Any],
    response: httpx.Response,
    content: bytes | None,
    *,
    detail: str | None = None,
) -> APIError:
    if content is None:
        what = "answer not read"
    elif content:
        what = f"not JSON ({_media_type(response) or 'no content type'})"
    else:
        what = "empty answer"
    text = f"{_status_line(response)}: {detail + ', ' if detail else ''}{what}"
    return _build(
        class_for_status(response.status_code) or APIError,
        op,
        response,
        text,
        body=_excerpt(response, content),
    )


def _json_messages(data: Any) -> list[str]:
    """The error texts of a JSON error body ("message", "error", "errors", "detail")."""
    out: list[str] = []
    if isinstance(data, dict):
        for key in ("message", "error", "errors", "detail"):
            if key in data:
                _flatten(data[key], out, "", 0)
    elif isinstance(data, (list, str)):
        _flatten(data, out, "", 0)
    return list(dict.fromkeys(out))


def _flatten(value: Any, out: list[str], prefix: str, depth: int) -> None:
    if depth > 4 or len(out) >= _MAX_MESSAGES or value is None or isinstance(value, bool):
        return
    if isinstance(value, (str, int, float)):
        text = _clean(str(value))
        if text:
            out.append(prefix + text)
    elif isinstance(value, list):
        for item in value:
            _flatten(item, out, prefix, depth + 1)
    elif isinstance(value, dict):
        # {"msg": ...} / {"message": ...} items (FastAPI, JSON:API); else field -> texts.
        for key in ("message", "msg", "detail", "title"):
            if isinstance(value.get(key), str):
                _flatten(value[key], out, prefix, depth + 1)
                return
        for key, item in value.items():
            _flatten(item, out, f"{prefix}{_clean(str(key))[:60]}: ", depth + 1)


# --------------------------------------------------------------------- building


def _build(
    cls: type[APIError],
    op: Operation[Any],
    response: httpx.Response,
    text: str,
    *,
    codes: list[int] | tuple[int, ...] = (),
    messages: list[str] | tuple[str, ...] = (),
    body: str | None = None,
) -> APIError:
    label = _label(op, response)
    message = f"{text} ({label})"
    request_id = _request_id(response)
    extra: dict[str, Any] = {}
    if issubclass(cls, RateLimitError):
        extra["retry_after"] = parse_retry_after(response.headers.get("retry-after"))
    return cls(
        message,
        status_code=response.status_code,
        codes=codes,
        messages=messages,
        request_id=request_id,
        operation=label,
        body=body,
        **extra,
    )


def _label(op: Operation[Any], response: httpx.Response) -> str:
    # The path only: the query string and the headers may carry credentials.
    try:
        path = response.request.url.path
    except RuntimeError:  # a response built without a request
        path = op.path
    return f"{op.method} {path}"


def _status_line(response: httpx.Response) -> str:
    reason = response.reason_phrase
    return f"HTTP {response.status_code} {reason}" if reason else f"HTTP {response.status_code}"


def _request_id(response: httpx.Response) -> str | None:
    headers = response.headers
    for name in _REQUEST_ID_HEADERS:
        value = headers.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()[:200]
    return None


def _media_type(response: httpx.Response) -> str:
    value = str(response.headers.get("content-type", ""))
    return value.split(";")[0].strip().lower()[:60]


def _looks_like_image(content: bytes) -> bool:
    return content.startswith(_IMAGE_MAGIC) or b"<svg" in content[:1024]


def _clean(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _TEXT_LIMIT else text[: _TEXT_LIMIT - 1] + "…"


def _excerpt(response: httpx.Response, content: bytes | None) -> str | None:
    """At most 200 characters of a body, HTML tags stripped, whitespace collapsed."""
    if not content:
        return None
    charset = response.charset_encoding or "utf-8"
    try:
        text = content[:16384].decode(charset, "replace")
    except LookupError:
        text = content[:16384].decode("utf-8", "replace")
    if "<" in text:
        text = _HTML_TAG.sub(" ", _HTML_BLOCKS.sub(" ", text))
    text = html.unescape(text)
    if "<" in text:  # entities that spelled tags
        text = _HTML_TAG.sub(" ", text)
    text = " ".join(text.split())
    if len(text) > _EXCERPT_LIMIT:
        text = text[: _EXCERPT_LIMIT - 1] + "…"
    return text or None
