"""The standard node library: one module per node type, each with ``Params``, ``run`` and ``SPEC``.

Adding a node type is adding one module here: ``registry`` finds it by its file (its type name is
the module's name with ``-`` for ``_``) and ``spec.node_spec`` derives its ports from ``run``.
Node types of other packages come in through the ``atomiton.nodes`` entry points (see
docs/plugins.md). See ``atomiton.nodes.spec`` for the calling convention generated modules rely on.
"""
