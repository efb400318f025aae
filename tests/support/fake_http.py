"""The recording HTTP server (fakes of Databricks and Slack), shared with the demo's Slack sink."""

from mlops_hooks.functions.demo.recording_http import FakeHTTP, Fault, Handler, Request  # noqa: F401
