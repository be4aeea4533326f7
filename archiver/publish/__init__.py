"""Showing the archive: Datasette and the static link-health report."""
