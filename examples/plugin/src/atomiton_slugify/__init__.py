"""An example atomiton node package: its one node type, ``slugify``, lives in ``slugify.py``."""
