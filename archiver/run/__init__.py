"""Running the stages over many URLs: ingest, archive, check, on any executor."""
