"""Django project package of the flights demo."""
