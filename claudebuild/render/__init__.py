"""Render a `Report` for people and tools; one module per format, each a pure `render(report) -> str`."""
