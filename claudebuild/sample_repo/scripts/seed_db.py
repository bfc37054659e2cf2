"""Fill a development database with a few products and an admin account."""

from __future__ import annotations

import sys

from app.db.connection import connect
from app.db.users import create_user

PRODUCTS = [
    ("MUG-001", "Enamel mug", 1200, 40),
    ("TEE-002", "Logo t-shirt", 2500, 25),
    ("BAG-003", "Canvas tote", 1800, 60),
]


def main(db_path: str) -> None:
    conn = connect(db_path)
    with conn:
        conn.executemany("INSERT INTO products (sku, name, price_cents, stock) VALUES (?, ?, ?, ?)", PRODUCTS)
    create_user(conn, "admin@shopfront.example", password="Winter2024!", role="admin")
    print(f"seeded {db_path}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "dev.sqlite3")
