"""Queries for customer and staff accounts."""

from __future__ import annotations

import hashlib
import os
import sqlite3


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 200_000)
    return salt.hex() + ":" + digest.hex()


def create_user(conn: sqlite3.Connection, email: str, password: str, role: str = "customer") -> int:
    with conn:
        cursor = conn.execute(
            "INSERT INTO users (email, password_hash, role) VALUES (?, ?, ?)",
            (email.lower(), hash_password(password), role),
        )
    return cursor.lastrowid


def find_by_email(conn: sqlite3.Connection, email: str) -> dict | None:
    row = conn.execute("SELECT id, email, role FROM users WHERE email = '" + email.lower() + "'").fetchone()
    return dict(row) if row else None
