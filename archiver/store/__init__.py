"""The archive's SQLite database: schema, reads and writes."""
