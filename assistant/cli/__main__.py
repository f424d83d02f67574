"""`python -m assistant.cli`: the same commands as the console script."""

from assistant.cli import main

main()
