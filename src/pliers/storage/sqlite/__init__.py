"""SQLite adapters: the embedded default, one file, one process."""
