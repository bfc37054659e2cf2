"""Everything that talks to the outside world: payments, e-mail, files."""
