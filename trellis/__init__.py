"""Trellis: event-driven B2B nurture orchestration.

This package holds the plumbing shared by the three services (settings, database, Kafka,
the embedded broker, the CLI). Domain code lives in ``services``; the wire contract in ``schemas``.
"""

__version__ = "0.1.0"
