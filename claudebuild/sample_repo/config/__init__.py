"""Configuration: `config.settings` is read once, at import time."""
