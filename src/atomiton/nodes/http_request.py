"""The ``http-request`` node: one HTTP call with httpx, its response decoded by content type.

It owns request building (query, headers, body encoding, auth), response decoding and the
mapping of transport failures to errors that name the URL. Retries and the node-level timeout
setting belong to the runtime; ``timeout`` here bounds each network wait of the request.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

from pydantic import Field, field_validator

from ..errors import CancelledError
from .spec import NodeParams, NodeSpec, Port

if TYPE_CHECKING:
    import httpx

    from ..runtime.context import NodeContext

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
QueryValue = str | int | float | bool | None | list[str | int | float | bool | None]


class BasicAuth(NodeParams):
    """HTTP basic authentication."""

    type: Literal["basic"] = Field(description="`basic`.")
    username: str = Field(description="User name.")
    password: str = Field(default="", description="Password.")


class BearerAuth(NodeParams):
    """A bearer token, sent as ``Authorization: Bearer <token>``."""

    type: Literal["bearer"] = Field(description="`bearer`.")
    token: str = Field(description="The token.")


Auth = Annotated[BasicAuth | BearerAuth, Field(discriminator="type")]


class HTTPStatusError(RuntimeError):
    """The server answered with a 4xx or 5xx status and ``failOnError`` is true.

    Attributes:
        status: the HTTP status code.
        url: the final URL (after redirects).
        body: the start of the response body as text, for the message.
    """

    def __init__(self, method: str, url: str, status: int, reason: str, body: str) -> None:
        self.status = status
        self.url = url
        self.body = body
        detail = f": {body}" if body else ""
        super().__init__(f"{method} {url} returned {status} {reason}{detail}")


class Params(NodeParams):
    """Parameters of the ``http-request`` node."""

    method: Method = Field(default="GET", description="HTTP method; lower case is accepted too.")
    url: str | None = Field(
        default=None, description="Absolute http(s) URL. Required, here or through the `url` input."
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Request headers.")
    query: dict[str, QueryValue] = Field(
        default_factory=dict,
        description="Query string parameters, added to any already in the URL; a list repeats the key.",
    )
    body: Any = Field(
        default=None,
        description=(
            "Request body: an object, array, number or boolean is sent as JSON; text as "
            "text/plain; bytes as application/octet-stream (unless a Content-Type header says otherwise)."
        ),
    )
    auth: Auth | None = Field(
        default=None,
        description="`{type: basic, username, password}` or `{type: bearer, token}`.",
    )
    timeout: float | None = Field(
        default=30000,
        gt=0,
        description="Milliseconds to wait for connecting and for each read or write; null waits forever.",
    )
    follow_redirects: bool = Field(default=True, description="Follow 3xx redirects.")
    fail_on_error: bool = Field(
        default=True,
        description="A 4xx or 5xx status fails the node; false returns it with ok false.",
    )

    @field_validator("method", mode="before")
    @classmethod
    def _upper_method(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("headers", mode="before")
    @classmethod
    def _header_text(cls, value: object) -> object:
        # YAML turns `X-Count: 3` into an int; a header value is text either way.
        if isinstance(value, Mapping):
            return {k: v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}
        return value


@dataclass(frozen=True, slots=True)
class Output:
    """What the ``http-request`` node produces.

    Attributes:
        result: the decoded body: JSON content -> the parsed value; text content -> str;
            anything else -> bytes; None for an empty body (HEAD, 204).
        status: the status code.
        headers: response headers, lower-case names; repeated headers joined with ", ".
        url: the final URL, after redirects.
        ok: True for a status below 400.
        duration: milliseconds from sending the request to having the whole body.
    """

    result: Any  # JSON value, str or bytes: decided by the response, not the blueprint
    status: int
    headers: dict[str, str]
    url: str
    ok: bool
    duration: float


def run(
    params: Params,
    *,
    url: str | None = None,
    body: object = None,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, QueryValue] | None = None,
    context: NodeContext | None = None,
) -> Output:
    """Send one HTTP request and decode the response.

    Args:
        params: the node's parameters.
        url: overrides ``params.url``.
        body: overrides ``params.body``.
        headers: replace ``params.headers`` (the edge wins as a whole; it is not merged).
        query: replace ``params.query``.
        context: cancellation: cancelling closes the client and raises at once.

    Returns:
        The decoded body with status, headers, final URL, ok flag and duration.

    Raises:
        ValueError: no URL, an invalid URL, or a JSON response that does not parse.
        ConnectionError: the server could not be reached or the connection broke.
        TimeoutError: a network wait took longer than ``timeout``.
        HTTPStatusError: the status is 4xx/5xx and ``failOnError`` is true.
        CancelledError: the run was cancelled meanwhile.
    """
    import httpx

    target = url if url is not None else params.url
    if not target:
        raise ValueError("http-request needs a url")
    target = str(target)
    if context is not None:
        context.check()
    timeout = httpx.Timeout(params.timeout / 1000 if params.timeout is not None else None)
    client = httpx.Client(timeout=timeout, follow_redirects=params.follow_redirects)
    try:
        request = _build_request(
            client,
            params,
            target,
            body if body is not None else params.body,
            headers if headers is not None else params.headers,
            query if query is not None else params.query,
        )
        started = time.perf_counter()
        response = _send(client, request, params, context)
        duration = (time.perf_counter() - started) * 1000
    finally:
        client.close()
    return _output(response, params, duration)


def _build_request(
    client: httpx.Client,
    params: Params,
    url: str,
    body: object,
    headers: Mapping[str, str],
    query: Mapping[str, QueryValue],
) -> httpx.Request:
    import httpx

    request_headers = httpx.Headers({k: str(v) for k, v in headers.items()})
    if isinstance(params.auth, BearerAuth):
        request_headers["Authorization"] = f"Bearer {params.auth.token}"
    content: bytes | None = None
    if body is not None:
        if isinstance(body, (bytes, bytearray, memoryview)):
            content = bytes(body)
            request_headers.setdefault("Content-Type", "application/octet-stream")
        elif isinstance(body, str):
            content = body.encode("utf-8")
            request_headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        else:
            try:
                content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(
                    "utf-8"
                )
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"cannot send a {type(body).__name__} body to {url} as JSON: {exc}"
                ) from None
            request_headers.setdefault("Content-Type", "application/json")
    try:
        merged = httpx.URL(url)
        if query:
            merged = merged.copy_merge_params(_query_params(query))
        if merged.scheme not in ("http", "https") or not merged.host:
            raise ValueError(f"invalid URL {url!r}: expected an absolute http:// or https:// URL")
        request = client.build_request(
            params.method, merged, headers=request_headers, content=content
        )
    except httpx.InvalidURL as exc:
        raise ValueError(f"invalid URL {url!r}: {exc}") from None
    if isinstance(params.auth, BasicAuth):
        # httpx applies auth while sending; building the header here keeps one code path.
        auth = httpx.BasicAuth(params.auth.username, params.auth.password)
        request = next(auth.sync_auth_flow(request))
    return request


def _query_params(
    query: Mapping[str, QueryValue],
) -> list[tuple[str, str | int | float | bool | None]]:
    pairs: list[tuple[str, str | int | float | bool | None]] = []
    for key, value in query.items():
        for item in value if isinstance(value, list) else [value]:
            if item is None:
                continue
            pairs.append(
                (key, ("true" if item else "false") if isinstance(item, bool) else str(item))
            )
    return pairs


def _send(
    client: httpx.Client, request: httpx.Request, params: Params, context: NodeContext | None
) -> httpx.Response:
    if context is None:
        return _send_now(client, request, params)
    # Closing an httpx client does not wake a thread blocked reading a socket, so the request
    # runs on a helper thread and this one waits for either the response or a cancellation.
    wake = threading.Event()
    outcome: list[httpx.Response | BaseException] = []

    def work() -> None:
        try:
            outcome.append(_send_now(client, request, params))
        except BaseException as exc:  # handed to the waiting thread
            outcome.append(exc)
        finally:
            wake.set()

    def cancel() -> None:
        wake.set()
        client.close()

    unregister = context.on_cancel(cancel)
    try:
        threading.Thread(target=work, name=f"http-request {context.node_id}", daemon=True).start()
        wake.wait()
    finally:
        unregister()
    if not outcome or context.cancelled:
        raise CancelledError(f"{request.method} {request.url} was cancelled")
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result


def _send_now(client: httpx.Client, request: httpx.Request, params: Params) -> httpx.Response:
    import httpx

    where = f"{request.method} {request.url}"
    try:
        return client.send(request)
    except httpx.TimeoutException as exc:
        raise TimeoutError(
            f"{where} timed out after {params.timeout:g} ms ({type(exc).__name__})"
        ) from exc
    except httpx.TooManyRedirects as exc:
        raise ConnectionError(f"{where}: too many redirects") from exc
    except httpx.UnsupportedProtocol as exc:
        raise ValueError(f"{where}: unsupported URL scheme") from exc
    except httpx.TransportError as exc:
        reason = str(exc) or type(exc).__name__
        raise ConnectionError(f"{where} failed: {reason}") from exc


def _output(response: httpx.Response, params: Params, duration: float) -> Output:
    url = str(response.url)
    if response.is_error and params.fail_on_error:
        excerpt = response.text[:300].strip() if response.content else ""
        raise HTTPStatusError(
            response.request.method, url, response.status_code, response.reason_phrase, excerpt
        )
    return Output(
        result=_decode(response, url),
        status=response.status_code,
        headers=dict(response.headers.items()),
        url=url,
        ok=not response.is_error,
        duration=duration,
    )


def _decode(response: httpx.Response, url: str) -> object:
    if not response.content:
        return None
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            return response.json()
        except ValueError as exc:
            raise ValueError(f"{url} sent invalid JSON ({exc})") from None
    if _is_text(content_type) or response.charset_encoding is not None:
        return response.text
    return response.content


def _is_text(content_type: str) -> bool:
    return (
        content_type.startswith("text/")
        or content_type in _TEXT_TYPES
        or content_type.endswith("+xml")
    )


_TEXT_TYPES: Final = frozenset(
    {
        "application/xml",
        "application/javascript",
        "application/x-www-form-urlencoded",
        "application/yaml",
        "application/x-yaml",
        "application/graphql",
    }
)


SPEC: Final = NodeSpec(
    type="http-request",
    module="atomiton.nodes.http_request",
    params=Params,
    inputs=(
        Port("url", "string", description="The URL (overrides the url parameter)."),
        Port("body", "any", description="Request body (overrides the body parameter)."),
        Port("headers", "object", description="Request headers (replace the headers parameter)."),
        Port("query", "object", description="Query parameters (replace the query parameter)."),
    ),
    outputs=(
        Port("result", "any", description="Decoded body: JSON value, text, or bytes."),
        Port("status", "integer", description="HTTP status code."),
        Port("headers", "object", description="Response headers, lower-case names."),
        Port("url", "string", description="Final URL after redirects."),
        Port("ok", "boolean", description="True when the status is below 400."),
        Port("duration", "number", description="Milliseconds the request took."),
    ),
    description="Send an HTTP request with httpx and decode the response by its content type.",
    execution="thread",
    weight=500,
    needs_context=True,
    requires=("httpx",),
    extra="http",
)
