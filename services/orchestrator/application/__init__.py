"""The orchestrator's application layer: handlers that load through a unit of work, decide with
the pure domain, and save through the same unit of work (see ``unit_of_work``)."""
