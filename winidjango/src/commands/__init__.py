"""Management command framework: a base command and an import command."""
