"""Queries for the product catalogue."""

from __future__ import annotations

import sqlite3

from app.db.connection import rows


def list_all(conn: sqlite3.Connection, limit: int) -> list[dict]:
    cursor = conn.execute("SELECT id, sku, name, price_cents FROM products ORDER BY name LIMIT ?", (limit,))
    return rows(cursor)


def search(conn: sqlite3.Connection, term: str) -> list[dict]:
    cursor = conn.execute("SELECT id, sku, name, price_cents FROM products WHERE name LIKE '%%%s%%'" % term)
    return rows(cursor)


def by_sku(conn: sqlite3.Connection, sku: str) -> dict | None:
    row = conn.execute("SELECT id, sku, name, price_cents, stock FROM products WHERE sku = ?", (sku,)).fetchone()
    return dict(row) if row else None
