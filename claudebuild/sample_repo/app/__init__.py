"""Shopfront: a small order and inventory service."""

__version__ = "1.4.2"
