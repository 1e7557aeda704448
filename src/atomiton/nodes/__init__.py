"""The standard node library: one module per node type, each with ``SPEC``, ``Params``, ``run``.

See ``atomiton.nodes.spec`` for the calling convention generated modules rely on.
"""
