"""Tests of the example projects under examples/."""
