"""The ``trellis`` command and ``trellis dev``: the one place that knows every service.

``trellis/`` is plumbing the services share and imports none of them; what wires all the
services together (the CLI, the local supervisor, the full table metadata for alembic) lives
here, above them.
"""
