"""`python -m mailcrm` runs the console script."""

from mailcrm.cli import main

main()
