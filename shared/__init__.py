"""mlops-hooks' library: events, ledger, settings, ports and adapters."""
