"""Keeping what was fetched: WARC records and the main text of each page."""
