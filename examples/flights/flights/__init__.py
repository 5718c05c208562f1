"""The flights app: models, cleaning rules and the import commands."""
