"""Database utilities: bulk operations, model and field helpers, raw SQL."""
