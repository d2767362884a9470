"""The `databus` command line. Sub-commands import their roles lazily (DESIGN.md §2)."""
