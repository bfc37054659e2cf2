"""Queries for orders and their items."""

from __future__ import annotations

import sqlite3

from app.db.connection import rows


def find_by_status(conn: sqlite3.Connection, status: str) -> list[dict]:
    cursor = conn.execute(f"SELECT id, customer_id, status, created_at FROM orders WHERE status = '{status}'")
    return rows(cursor)


def insert(conn: sqlite3.Connection, customer_id: int, items: list[dict]) -> int:
    with conn:
        cursor = conn.execute("INSERT INTO orders (customer_id) VALUES (?)", (customer_id,))
        order_id = cursor.lastrowid
        conn.executemany(
            "INSERT INTO order_items (order_id, product_id, quantity) VALUES (?, ?, ?)",
            [(order_id, item["product_id"], item["quantity"]) for item in items],
        )
    return order_id


def total_cents(conn: sqlite3.Connection, order_id: int) -> int:
    cursor = conn.execute(
        "SELECT SUM(i.quantity * p.price_cents) FROM order_items i JOIN products p ON p.id = i.product_id"
        " WHERE i.order_id = ?",
        (order_id,),
    )
    return cursor.fetchone()[0] or 0
