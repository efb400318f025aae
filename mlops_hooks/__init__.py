"""mlops-hooks: event-driven, serverless MLOps on model-registry webhooks.

One import package over the project's top-level folders (pyproject.toml's package-dir):
``mlops_hooks.functions`` (edge + CLI) -> ``mlops_hooks.handlers`` (one module per event kind)
-> ``mlops_hooks.shared`` (domain, ports, adapters, settings, bootstrap); ``mlops_hooks.jobs``
holds the Spark entry points. The layers are checked by import-linter (.importlinter).
"""

__version__ = "0.1.0"
