"""winidjango's benchmark: plain Django vs the raw driver vs winidjango."""
