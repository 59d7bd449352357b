"""The wire contract between Trellis services: topic names, keys and message models.

Everything that crosses Kafka is defined here and nowhere else, so producers and consumers
cannot drift apart. JSON Schema for these models is exported to ``schemas/json/``.
"""
