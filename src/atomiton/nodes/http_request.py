"""The ``http-request`` node: one HTTP call with httpx, its response decoded by content type.

It owns the node's parameters and output, request building (query, headers, body encoding,
auth), the client a call runs on (its own, the run's shared pool, or one lent by the host) and
response decoding. The exchange itself (redirects and which headers survive one, reading the body
under a size cap and a deadline, shutting an abandoned socket, the errors that name the URL) is
``http_exchange``'s. Retries and the node-level timeout setting belong to the runtime;
``timeout`` here bounds the whole exchange, body included.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from http.cookiejar import CookieJar, DefaultCookiePolicy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

from pydantic import Field, field_validator

from .http_exchange import Exchange
from .spec import NodeParams, Port, Purity, node_spec

if TYPE_CHECKING:
    import httpx

    from ..runtime.context import NodeContext

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
QueryValue = str | int | float | bool | None | list[str | int | float | bool | None]

DEFAULT_MAX_RESPONSE_BYTES: Final = 100 * 1024 * 1024
# Where a run keeps the pool its http-request nodes share (``RunResources``).
_POOL_KEY: Final = "atomiton.nodes.http_request:pool"


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
        description=(
            "Milliseconds the whole exchange may take: connecting, sending, redirects and "
            "receiving the whole body; null waits forever."
        ),
    )
    max_response_bytes: int | None = Field(
        default=DEFAULT_MAX_RESPONSE_BYTES,
        gt=0,
        description=(
            "Largest response body accepted, in bytes after decompression (default 100 MB); a "
            "larger one fails the node. null accepts any size."
        ),
    )
    follow_redirects: bool = Field(
        default=True,
        description=(
            "Follow 3xx redirects (at most 20). A redirect to another origin drops every header "
            "you set except Accept*, Cache-Control, Content-Type, Content-Language, Pragma and "
            "User-Agent, and the auth."
        ),
    )
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

    # JSON value, str or bytes: decided by the response, not the blueprint.
    result: Annotated[Any, Port(description="Decoded body: JSON value, text, or bytes.")]
    status: Annotated[int, Port(description="HTTP status code.")]
    headers: Annotated[dict[str, str], Port(description="Response headers, lower-case names.")]
    url: Annotated[str, Port(description="Final URL after redirects.")]
    ok: Annotated[bool, Port(description="True when the status is below 400.")]
    duration: Annotated[float, Port(description="Milliseconds the request took.")]


def run(
    params: Params,
    *,
    url: Annotated[str | None, Port(description="The URL (overrides the url parameter).")] = None,
    body: Annotated[
        object, Port(description="Request body (overrides the body parameter).")
    ] = None,
    headers: Annotated[
        Mapping[str, str] | None,
        Port(description="Request headers (replace the headers parameter)."),
    ] = None,
    query: Annotated[
        Mapping[str, QueryValue] | None,
        Port(description="Query parameters (replace the query parameter)."),
    ] = None,
    context: NodeContext | None = None,
) -> Output:
    """Send one HTTP request and decode the response.

    Args:
        params: the node's parameters.
        url: overrides ``params.url``.
        body: overrides ``params.body``.
        headers: replace ``params.headers`` (the edge wins as a whole; it is not merged).
        query: replace ``params.query``.
        context: cancellation: cancelling shuts the connection and raises at once.

    Returns:
        The decoded body with status, headers, final URL, ok flag and duration.

    Raises:
        ValueError: no URL, an invalid URL, or a JSON response that does not parse.
        ConnectionError: the server could not be reached, the connection broke, or more than
            20 redirects.
        TimeoutError: the whole exchange, body included, took longer than ``timeout``.
        ResponseTooLargeError: the body is larger than ``maxResponseBytes``.
        HTTPStatusError: the status is 4xx/5xx and ``failOnError`` is true.
        CancelledError: the run was cancelled meanwhile.
    """
    target = url if url is not None else params.url
    if not target:
        raise ValueError("http-request needs a url")
    target = str(target)
    if context is not None:
        context.check()
    seconds = params.timeout / 1000 if params.timeout is not None else None
    client, whose = _client(context)
    owned = whose == "own"
    try:
        request_headers = headers if headers is not None else params.headers
        request = _build_request(
            client,
            params,
            target,
            body if body is not None else params.body,
            request_headers,
            query if query is not None else params.query,
        )
        user_set = {name.lower() for name in request_headers}
        if whose == "lent":
            # The lender's default headers were set by the user too: same rule at a redirect.
            user_set.update(name.lower() for name in client.headers)
        if params.auth is not None:
            user_set.add("authorization")
        started = time.perf_counter()
        exchange = Exchange(client, owned, params, user_set, started, seconds)
        response, content = exchange.run(request, context)
        duration = (time.perf_counter() - started) * 1000
    finally:
        if owned:
            client.close()
    return _output(response, content, params, duration)


def _client(context: NodeContext | None) -> tuple[httpx.Client, Literal["own", "run", "lent"]]:
    """The client to send with, and whose it is (``own``: this call's, closed by it).

    In a run every node shares the run's pool (keep-alive, one TLS context), or the client the
    caller lent through ``run(..., http_client=...)``; a node called on its own makes its own.
    """
    import httpx

    from ..runtime.resources import HTTP_CLIENT

    resources = context.resources if context is not None else None
    if resources is None:
        return _new_client(), "own"
    lent = resources.lent(HTTP_CLIENT)
    if lent is not None:
        if not isinstance(lent, httpx.Client):
            raise TypeError(
                f"http_client must be an httpx.Client, not {type(lent).__name__} "
                "(an httpx.AsyncClient cannot serve these synchronous calls)"
            )
        return lent, "lent"
    return resources.get(_POOL_KEY, _new_client, _close_client), "run"


def _new_client() -> httpx.Client:
    import httpx

    # Each request sets its own timeout; redirects are followed here, hop by hop. The client
    # keeps no cookies, so nodes sharing it stay as separate as nodes with a client each (an
    # exchange keeps the cookies of its own redirects, see ``_Exchange``). Connections are
    # bounded by the run's concurrency, not by the pool: a queue here would eat timeouts.
    return httpx.Client(
        timeout=None,
        follow_redirects=False,
        cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])),
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
    )


def _close_client(client: httpx.Client) -> None:
    client.close()


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


def _output(response: httpx.Response, content: bytes, params: Params, duration: float) -> Output:
    url = str(response.url)
    if response.is_error and params.fail_on_error:
        excerpt = _text(response, content[:1200])[:300].strip() if content else ""
        raise HTTPStatusError(
            response.request.method, url, response.status_code, response.reason_phrase, excerpt
        )
    return Output(
        result=_decode(response, content, url),
        status=response.status_code,
        headers=dict(response.headers.items()),
        url=url,
        ok=not response.is_error,
        duration=duration,
    )


def _decode(response: httpx.Response, content: bytes, url: str) -> object:
    if not content:
        return None
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            # json.loads detects UTF-8, -16 and -32 from the bytes, as JSON requires.
            return json.loads(content)
        except ValueError as exc:
            raise ValueError(f"{url} sent invalid JSON ({exc})") from None
    if _is_text(content_type) or response.charset_encoding is not None:
        return _text(response, content)
    return content


def _text(response: httpx.Response, content: bytes) -> str:
    encoding = response.charset_encoding or "utf-8"
    try:
        return content.decode(encoding, errors="replace")
    except LookupError:  # a charset Python does not know
        return content.decode("utf-8", errors="replace")


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


def _purity(params: Mapping[str, object]) -> Purity:
    """GET and HEAD only read (RFC 9110's safe methods); the others may change the server."""
    method = params.get("method", "GET")
    return "pure" if isinstance(method, str) and method.upper() in ("GET", "HEAD") else "effect"


SPEC: Final = node_spec(
    run,
    description="Send an HTTP request with httpx and decode the response by its content type.",
    execution="thread",
    weight=500,
    requires=("httpx",),
    extra="http",
    purity=_purity,
)
