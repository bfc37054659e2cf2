import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.db.connection import connect  # noqa: E402


@pytest.fixture
def db(tmp_path):
    conn = connect(str(tmp_path / "test.sqlite3"))
    with conn:
        conn.executemany(
            "INSERT INTO products (id, sku, name, price_cents, stock) VALUES (?, ?, ?, ?, ?)",
            [(1, "MUG-001", "Enamel mug", 1200, 3), (2, "TEE-002", "Logo t-shirt", 2500, 0)],
        )
        conn.execute("INSERT INTO users (id, email, password_hash) VALUES (1, 'ada@example.com', 'x:y')")
    return conn
