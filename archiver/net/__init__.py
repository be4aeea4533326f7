"""Talking to the web: the guarded, polite fetcher and what it returns."""
