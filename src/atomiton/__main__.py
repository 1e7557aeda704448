"""``python -m atomiton``: the same command as the ``atomiton`` console script."""

from atomiton.cli import main

if __name__ == "__main__":
    main(prog_name="atomiton")
