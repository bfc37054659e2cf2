"""Order endpoints."""

from __future__ import annotations

from app.api.router import Request, Response, Router
from app.db import orders as order_rows
from app.services import billing, inventory, notify


def register(router: Router) -> None:
    router.route("GET", "/orders")(list_orders)
    router.route("POST", "/orders")(create_order)


def list_orders(request: Request) -> Response:
    status = request.query.get("status", "open")
    return Response(200, order_rows.find_by_status(request.db, status))


def create_order(request: Request) -> Response:
    items = request.body.get("items") or []
    if not items:
        return Response(400, {"error": "an order needs at least one item"})
    inventory.reserve(request.db, items)
    order_id = order_rows.insert(request.db, request.body["customer_id"], items)
    total_cents = order_rows.total_cents(request.db, order_id)
    billing.charge(request.body["customer_id"], total_cents, reference=f"order-{order_id}")
    notify.order_confirmed(request.body.get("email", ""), order_id)
    return Response(201, {"id": order_id, "total_cents": total_cents})
