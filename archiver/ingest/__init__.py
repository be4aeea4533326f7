"""Reading an article: its text, metadata, links and the claim each link supports."""
