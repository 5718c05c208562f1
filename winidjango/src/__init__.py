"""Source code of winidjango: database utilities and management commands."""
