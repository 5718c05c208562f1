"""Test commands: a plain ABCBaseCommand probe and import commands."""
