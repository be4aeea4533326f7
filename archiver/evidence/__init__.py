"""Finding the passage of a source that backs a claim, and judging how well it does."""
