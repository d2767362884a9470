"""`python -m databus.cli` runs the `databus` command."""

from databus.cli.main import main

main()
