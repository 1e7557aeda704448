"""``python -m atomiton``: the same command as the ``atomiton`` console script."""

import sys

try:
    from atomiton.cli import main
except ModuleNotFoundError as missing:  # the runtime-only install has no command line
    sys.exit(
        f"python -m atomiton: the command line is not installed ({missing}); "
        "pip install atomiton gives it, atomiton-runtime only runs compiled modules"
    )

if __name__ == "__main__":
    main(prog_name="atomiton")
