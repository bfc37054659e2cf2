"""Operator endpoints: health, ad-hoc metrics and exports."""

from __future__ import annotations

from app.api.router import Request, Response, Router
from app.services import reports


def register(router: Router) -> None:
    router.route("GET", "/admin/health")(health)
    router.route("GET", "/admin/metric")(metric)
    router.route("POST", "/admin/export")(export)


def health(request: Request) -> Response:
    request.db.execute("SELECT 1")
    return Response(200, {"status": "ok"})


def metric(request: Request) -> Response:
    """Compute a metric from today's counters, e.g. `?expr=orders / visitors`."""
    counters = reports.daily_counters(request.db)
    expr = request.query.get("expr", "orders")
    value = eval(expr, {"__builtins__": {}}, counters)
    return Response(200, {"expr": expr, "value": value})


def export(request: Request) -> Response:
    path = reports.export_orders(request.body.get("day", "today"))
    return Response(201, {"path": path})
