"""``python -m reinforcelab``: the command line (``reinforcelab`` itself starts from
``_reinforcelab_launcher``, which also turns a Ctrl-C during the imports into one line)."""

from .cli import main

main()
