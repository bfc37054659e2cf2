"""HTTP handlers, grouped by resource; each module has a `register(router)`."""
