"""The ``reinforcelab`` command's entry point, kept outside the package on purpose.

Ctrl-C may come at any moment, also during the second it takes to import the command line (the
package itself, numpy, typer, rich): it ends in ``error: interrupted`` and exit code 130, the
shell's code for an interrupted command, never a traceback. Importing ``reinforcelab`` is part of
that second, so the code that catches it cannot live in the package.
"""

import sys


def main() -> None:
    try:
        from reinforcelab.cli import main as run_command_line

        run_command_line()
    except KeyboardInterrupt:  # before the command line's own handling is in place
        sys.stderr.write("\nerror: interrupted\n")
        sys.exit(130)


if __name__ == "__main__":
    main()
