"""Registry files: hardened YAML, JSON Schema, `gitreg check` of a tree, records, trees."""
