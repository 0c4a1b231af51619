"""``python -m pliers``."""

from pliers.cli import main

main()
