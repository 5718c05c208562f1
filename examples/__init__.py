"""Example Django projects that use winidjango."""
