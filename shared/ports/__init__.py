"""The ports handlers talk through: protocols and the values they exchange, one module each.

``ledger`` (EventLog, Guards, JobRuns), ``registry``, ``notifier``, ``tables``, ``jobs``,
``renderer``, ``runtime`` (clock, queue), ``outcome`` (what a handler returns) and ``deps``
(the bundle a handler receives). Adapters (shared/adapters/) implement them.
"""
