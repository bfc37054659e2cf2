"""Product catalogue endpoints."""

from __future__ import annotations

from app.api.router import Request, Response, Router
from app.db import products as product_rows


def register(router: Router) -> None:
    router.route("GET", "/products")(list_products)
    router.route("GET", "/products/search")(search_products)


def list_products(request: Request) -> Response:
    limit = min(int(request.query.get("limit", "50")), 200)
    return Response(200, product_rows.list_all(request.db, limit))


def search_products(request: Request) -> Response:
    term = request.query.get("q", "").strip()
    if len(term) < 2:
        return Response(400, {"error": "search needs at least two characters"})
    return Response(200, product_rows.search(request.db, term))
