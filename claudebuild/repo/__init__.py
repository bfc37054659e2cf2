"""The repository under review: its root, its git view (the one git helper) and its staged content."""
