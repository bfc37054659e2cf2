"""Runtime settings, read from the environment (a local `.env` provides them in development)."""

from __future__ import annotations

import os

HOST = os.environ.get("SHOPFRONT_HOST", "127.0.0.1")
PORT = int(os.environ.get("SHOPFRONT_PORT", "8000"))
LOG_LEVEL = os.environ.get("SHOPFRONT_LOG_LEVEL", "INFO")
DATABASE_PATH = os.environ.get("SHOPFRONT_DB", "shopfront.sqlite3")
EXPORT_DIR = os.environ.get("SHOPFRONT_EXPORT_DIR", "exports")
PAYMENTS_URL = os.environ.get("PAYMENTS_URL", "https://payments.example.com")
SMTP_HOST = os.environ.get("SMTP_HOST", "localhost")
SMTP_PORT = int(os.environ.get("SMTP_PORT", "25"))
MAIL_FROM = os.environ.get("MAIL_FROM", "orders@shopfront.example")
