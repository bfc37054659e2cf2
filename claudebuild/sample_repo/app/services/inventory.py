"""Stock reservations."""

from __future__ import annotations

import sqlite3


class OutOfStock(Exception):
    def __init__(self, product_id: int, wanted: int, available: int) -> None:
        super().__init__(f"product {product_id}: wanted {wanted}, only {available} left")
        self.product_id = product_id


def reserve(conn: sqlite3.Connection, items: list[dict]) -> None:
    """Take the items out of stock atomically, or not at all."""
    with conn:
        for item in items:
            row = conn.execute("SELECT stock FROM products WHERE id = ?", (item["product_id"],)).fetchone()
            available = row["stock"] if row else 0
            if available < item["quantity"]:
                raise OutOfStock(item["product_id"], item["quantity"], available)
            conn.execute(
                "UPDATE products SET stock = stock - ? WHERE id = ?", (item["quantity"], item["product_id"])
            )
