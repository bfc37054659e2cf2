"""WSGI entry point: `python -m app.main` serves the API on http://127.0.0.1:8000."""

from __future__ import annotations

import logging
from wsgiref.simple_server import make_server

from app.api import admin, orders, products
from app.api.router import Router
from app.db.connection import connect
from config import settings

log = logging.getLogger(__name__)


def create_app(db_path: str = settings.DATABASE_PATH) -> Router:
    router = Router(connect(db_path))
    orders.register(router)
    products.register(router)
    admin.register(router)
    return router


def main() -> None:
    logging.basicConfig(level=settings.LOG_LEVEL)
    app = create_app()
    with make_server(settings.HOST, settings.PORT, app) as server:
        log.info("serving on http://%s:%d", settings.HOST, settings.PORT)
        server.serve_forever()


if __name__ == "__main__":
    main()
