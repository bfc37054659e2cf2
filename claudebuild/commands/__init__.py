"""One module per `claudebuild` subcommand; `main.py` only parses and dispatches."""
