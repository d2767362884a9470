"""`python -m cli` runs the `databus` command."""

from cli.main import main

main()
