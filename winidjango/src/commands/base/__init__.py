"""The abstract base management command."""
