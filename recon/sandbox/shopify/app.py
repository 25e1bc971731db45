"""The Shopify Admin GraphQL emulator as a Starlette app: auth, faults, cost, throttling."""

from __future__ import annotations

import asyncio
import copy
import json
import math
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLFormattedError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    build_schema,
    execute,
    get_operation_ast,
    parse,
    validate,
)
from graphql.execution.values import get_directive_values
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from recon.sandbox.shopify.catalog import Catalog
from recon.sandbox.shopify.context import Memory, RequestContext
from recon.sandbox.shopify.cost import (
    MAX_QUERY_COST,
    ActualCost,
    LeakyBucket,
    PageSizeError,
    requested_cost,
)
from recon.sandbox.shopify.render import SHORT_DECIMALS
from recon.sandbox.shopify.resolvers_root import root_value
from recon.sandbox.state import SandboxState

VERSIONS = frozenset({"2026-01", "2026-04"})
# shopify-admin-api.md §2: from 2026-04 these mutations fail at runtime without @idempotent.
IDEMPOTENT_REQUIRED = frozenset({"refundCreate", "inventoryAdjustQuantities"})
_DROP_HEADER = b"x-recon-drop"
_RATE_DOCS = "https://shopify.dev/api/usage/rate-limits"


@lru_cache(maxsize=1)
def emulator_schema() -> GraphQLSchema:
    """The emulator's SDL (a strict subset of the real 2026-04 schema), built once."""
    return build_schema(Path(__file__).with_name("schema.graphql").read_text(encoding="utf-8"))


@lru_cache(maxsize=256)
def checked_document(query: str) -> DocumentNode | tuple[GraphQLFormattedError, ...]:
    """A request's query parsed and validated against the emulator's schema, or its errors.

    Recon sends the same few documents again and again (a night of a few hundred returns is
    dozens of requests, a chaos campaign thousands); parsing and validating each copy afresh
    was about half of the emulator's time. The schema is fixed, so the answer for one text is
    always the same: it is worked out once. Executing it still happens per request.
    """
    try:
        document = parse(query)
    except GraphQLError as exc:
        return (exc.formatted,)
    problems = validate(emulator_schema(), document)
    if problems:
        return tuple(p.formatted for p in problems)
    return document


def _error(message: str, **extensions: Any) -> dict[str, Any]:
    return {"message": message, **({"extensions": extensions} if extensions else {})}


class ShopifyEngine:
    """Executes GraphQL requests against one sandbox state, charging its shop's cost bucket."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.schema = emulator_schema()
        self.catalog = Catalog(state)
        self.memory = Memory()
        shop = state.world.shop
        self.bucket = LeakyBucket(shop.bucket_size, shop.plan.restore_rate, state.clock)
        # Tests count stock movements here (refund restocks and inventoryAdjustQuantities groups).
        state.inventory_adjustments = self.memory.adjustments  # type: ignore[attr-defined]

    def run(self, version: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Answer one request body; the flag says whether a mutation executed."""
        self.state.refresh()
        query, variables = body.get("query"), body.get("variables") or {}
        if not isinstance(query, str) or not isinstance(variables, dict):
            return {"errors": [_error("Parse error: query must be a string")]}, False
        document = checked_document(query)
        if isinstance(document, tuple):
            return {"errors": copy.deepcopy(list(document))}, False
        operation = get_operation_ast(document, body.get("operationName"))
        if operation is None:
            return {"errors": [_error("An operation name is required")]}, False
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        try:
            cost = requested_cost(self.schema, operation, fragments, variables)
        except PageSizeError as exc:
            return {"errors": [_error(str(exc), code="BAD_REQUEST")]}, False
        multiplier = self.state.faults.cost_multiplier
        if multiplier != 1.0:
            # Live costs drift from the published formula; this makes the client's estimate wrong.
            cost = math.ceil(cost * multiplier)
        refusal = self._refuse(version, operation, variables, cost)
        if refusal is not None:
            return refusal, False
        return self._execute(
            version, document, body, cost
        ), operation.operation == OperationType.MUTATION

    def _cost(self, requested: int, actual: int | None) -> dict[str, Any]:
        return {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": actual,
                "throttleStatus": self.bucket.status(),
            }
        }

    def _refuse(
        self, version: str, operation: OperationDefinitionNode, variables: dict[str, Any], cost: int
    ) -> dict[str, Any] | None:
        if cost > MAX_QUERY_COST:
            message = (
                f"Query cost is {cost}, which exceeds the single query max cost limit "
                f"({MAX_QUERY_COST})."
            )
            return {
                "errors": [
                    _error(
                        message,
                        code="MAX_COST_EXCEEDED",
                        cost=cost,
                        maxCost=MAX_QUERY_COST,
                        documentation=_RATE_DOCS,
                    )
                ],
                "extensions": self._cost(cost, None),
            }
        missing = self._missing_idempotency(version, operation, variables)
        if missing is not None:
            return {"errors": [_error(missing)], "extensions": self._cost(cost, None)}
        # Live Shopify's THROTTLED status (200 or 429) is not settled (examples/shopify/
        # graphql-throttled-error.json): ``faults.throttled_status`` picks it; detect by code.
        if self.state.faults.throttle_storm or not self.bucket.take(cost):
            return {
                "errors": [_error("Throttled", code="THROTTLED", documentation=_RATE_DOCS)],
                "extensions": self._cost(cost, None),
            }
        return None

    def _missing_idempotency(
        self, version: str, operation: OperationDefinitionNode, variables: dict[str, Any]
    ) -> str | None:
        directive = self.schema.get_directive("idempotent")
        assert directive is not None
        for node in operation.selection_set.selections:
            if not isinstance(node, FieldNode) or node.name.value not in IDEMPOTENT_REQUIRED:
                continue
            values = get_directive_values(directive, node, variables)
            if values is None:
                if version >= "2026-04":
                    # Wording as third parties report it (shopify-admin-api.md §10, unverified).
                    return (
                        "The @idempotent directive is required for this mutation "
                        "but was not provided."
                    )
                continue
            if not str(values.get("key") or "").strip():
                return "The idempotency key must not be empty."
        return None

    def _execute(
        self, version: str, document: Any, body: dict[str, Any], cost: int
    ) -> dict[str, Any]:
        counter = ActualCost()
        short = SHORT_DECIMALS.set(self.state.faults.shopify_short_decimals)
        try:
            with self.state.lock:
                context = RequestContext(
                    self.state, self.catalog, self.memory, self.state.now(), version
                )
                result = execute(
                    self.schema,
                    document,
                    root_value=root_value(context),
                    variable_values=body.get("variables") or {},
                    operation_name=body.get("operationName"),
                    middleware=[counter],
                )
        finally:
            SHORT_DECIMALS.reset(short)
        assert isinstance(result, ExecutionResult)  # every resolver is synchronous
        actual = min(counter.total, cost)
        self.bucket.give_back(cost - actual)
        response: dict[str, Any] = {}
        if result.errors:
            response["errors"] = [e.formatted for e in result.errors]
        if result.data is not None or not result.errors:
            response["data"] = result.data
        response["extensions"] = self._cost(cost, actual)
        return response


class DropWriteResponses:
    """Raw ASGI wrapper: a response marked for dropping promises more bytes than it sends.

    uvicorn then aborts the connection, so the client sees a transport error after the write was
    applied: the "outcome unknown" case of shopify-admin-api.md §17.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        dropping = False

        async def guarded(message: Message) -> None:
            nonlocal dropping
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                dropping = any(name == _DROP_HEADER for name, _ in headers)
                if dropping:
                    headers = [
                        (n, v) for n, v in headers if n not in (_DROP_HEADER, b"content-length")
                    ]
                    headers.append((b"content-length", b"1048576"))
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body" and dropping:
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app(scope, receive, guarded)


def _shopify_error_response(status: int, errors: Any, request_id: str) -> JSONResponse:
    return JSONResponse(
        {"errors": errors}, status_code=status, headers={"X-Request-Id": request_id}
    )


def _status_of(payload: dict[str, Any], state: SandboxState) -> int:
    """HTTP status of a GraphQL answer: 200, or ``faults.throttled_status`` when THROTTLED."""
    for error in payload.get("errors") or ():
        extensions = error.get("extensions") if isinstance(error, dict) else None
        if isinstance(extensions, dict) and extensions.get("code") == "THROTTLED":
            return state.faults.throttled_status
    return 200


def create_shopify_app(state: SandboxState) -> Starlette:
    """The emulator serving ``POST /admin/api/{version}/graphql.json`` for 2026-01 and 2026-04."""
    engine = ShopifyEngine(state)

    async def graphql_endpoint(request: Request) -> JSONResponse:
        request_id = str(uuid.uuid4())
        if request.path_params["version"] not in VERSIONS:
            return _shopify_error_response(404, "Not Found", request_id)
        if request.headers.get("x-shopify-access-token") != state.shopify_token:
            return _shopify_error_response(
                401,
                "[API] Invalid API key or access token (unrecognized login or wrong password)",
                request_id,
            )
        if state.faults.server_error():
            message = (
                "Internal error. Looks like something went wrong on our end.\n"
                f"Request ID: {request_id}"
            )
            return _shopify_error_response(
                503,
                [_error(message, code="INTERNAL_SERVER_ERROR", requestId=request_id)],
                request_id,
            )
        if state.faults.latency_seconds > 0:
            await asyncio.sleep(state.faults.latency_seconds)
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _shopify_error_response(
                400, {"query": "Required parameter missing or invalid"}, request_id
            )
        version = request.path_params["version"]
        payload, mutated = await run_in_threadpool(engine.run, version, body)
        # The version served (shopify-admin-api.md §2): a pinned version that is gone "falls
        # forward"; the emulator serves exactly the version asked for.
        headers = {"X-Request-Id": request_id, "X-Shopify-API-Version": version}
        if mutated and state.faults.drop_write():
            headers[_DROP_HEADER.decode()] = "1"
        return JSONResponse(payload, status_code=_status_of(payload, state), headers=headers)

    app = Starlette(
        routes=[Route("/admin/api/{version}/graphql.json", graphql_endpoint, methods=["POST"])],
        middleware=[Middleware(DropWriteResponses)],
    )
    app.state.engine = engine
    return app
