"""Reading a registry: the SQLite query index, the filter language, search rows."""
