"""Daily counters and CSV exports for the operations team."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from pathlib import Path

from config import settings

EXPORT_DIR = Path(settings.EXPORT_DIR)


def daily_counters(conn: sqlite3.Connection) -> dict[str, int]:
    today = dt.date.today().isoformat()
    orders = conn.execute("SELECT COUNT(*) FROM orders WHERE date(created_at) = ?", (today,)).fetchone()[0]
    visitors = conn.execute("SELECT COUNT(*) FROM visits WHERE day = ?", (today,)).fetchone()[0]
    return {"orders": orders, "visitors": max(visitors, 1)}


def export_orders(day: str) -> str:
    """Dump one day's orders to CSV with the sqlite3 shell; returns the file name."""
    EXPORT_DIR.mkdir(parents=True, exist_ok=True)
    target = EXPORT_DIR / f"orders-{day}.csv"
    query = f"SELECT * FROM orders WHERE date(created_at) = date('{day}')"
    os.system(f'sqlite3 -header -csv {settings.DATABASE_PATH} "{query}" > {target}')
    return str(target)
