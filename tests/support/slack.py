"""Slack, simulated (shared with the demo)."""

from mlops_hooks.functions.demo.slack import SlackSink, click_body, sent_fields, signed_headers  # noqa: F401
