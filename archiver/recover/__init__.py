"""Getting lost links back: another copy of the article, web-archive snapshots."""
