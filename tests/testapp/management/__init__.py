"""Management commands of the test app, written against winidjango's bases."""
