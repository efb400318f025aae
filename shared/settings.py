"""Per-environment settings, from environment variables (and a `.env` file if present).

Policy (what to do per model) lives in the policy file; these are the things that differ
between a laptop, staging and prod: URIs, secrets, the state directory, worker sizing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mlops_hooks.shared.domain import tags
from mlops_hooks.shared.domain.errors import ConfigError


class SettingsError(ConfigError):
    """A setting is missing or invalid; the message is one readable line."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MLOPS_HOOKS_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    # --- ingress secrets (never logged: SecretStr masks them in repr and logs) ---
    mlflow_webhook_secret: SecretStr | None = None
    databricks_webhook_secret: SecretStr | None = None
    # Optional bearer token for the read endpoints (/events). Unset: open (local use).
    api_token: SecretStr | None = None

    # --- state ---
    state_dir: Path = Path(".mlops-hooks")
    ledger_url: str | None = Field(
        default=None,
        description="sqlite:///path/to/ledger.db (default: <state_dir>/ledger.db) "
        "or dynamodb://table-name",
    )
    # housekeeping ticks (reconcile, sweep) expire after tick_retention_days (DynamoDB's TTL;
    # SQLite: deleted by the reconcile tick), finished job runs after run_retention_days
    # (DynamoDB); every other event is the audit trail and stays
    tick_retention_days: float = Field(default=7, gt=0)
    # SQLite ledger: how large its write-ahead log may grow under a sustained flood of
    # webhooks before the edge's writer finishes a checkpoint itself (that batch waits for it)
    ledger_wal_limit_mb: float = Field(default=1024, gt=0)
    # SQLite ledger: how often the edge's checkpointer copies the write-ahead log into the
    # database file. Each round copies every page written since the last once, however often
    # it was written: the longer the round, the fewer copies (docs/benchmark-history.md, issue 19)
    ledger_checkpoint_seconds: float = Field(default=5, gt=0)
    # SQLite ledger: the edge syncs its write-ahead log from a helper process (as durable as
    # a syncing COMMIT; false: the COMMIT syncs, on a thread of the edge's process)
    ledger_sync_helper: bool = True
    run_retention_days: float = Field(default=90, gt=0)
    # SQS queue that wakes the worker function on AWS; unset locally (the worker pool polls).
    queue_url: str | None = None

    # --- policy (what to do per model): a YAML file; unset -> ./mlops.yml if present ---
    policy: Path | None = None

    # --- mapping rules at the edge ---
    challenger_alias: str = "challenger"
    champion_alias: str = "champion"
    # the aliases mlops-hooks itself moves (a promotion, a rollback): their webhooks are echoes
    previous_alias: str = "previous_champion"
    promote_tag: str = tags.PROMOTE

    # --- jobs (jobs/): "local" subprocesses on local Spark, or "databricks" (jobs.run_now) ---
    jobs_backend: Literal["local", "databricks"] = "local"
    # local jobs: one after another in one warm job host (Spark and MLflow started once); false:
    # each run its own `python -m` process (its own JVM)
    jobs_warm: bool = True
    # where the jobs' Delta tables live: <tables_uri>/<model>/{features,holdout,predictions}
    # (default <state_dir>/tables; s3://bucket/prefix or dbfs:/... elsewhere)
    tables_uri: str | None = None
    # an SQS queue of AWS notifications (S3 -> SQS) that `serve` polls and records, the local
    # stand-in for the SQS worker function's trigger
    ingest_queue_url: str | None = None
    # the SNS topic drift alarms go to (the drift_check job publishes there; CloudWatch alarms too)
    alarm_topic_arn: str | None = None
    # `serve`'s scheduler: the policy's cron schedules plus this reconcile tick ("" turns it off)
    reconcile_cron: str = "* * * * *"
    scheduler_poll_seconds: float = Field(default=5.0, gt=0)
    # the registry sweep: `serve`'s sweep tick in seconds (on by default; 0: off; on AWS the
    # schedule's rate sets it), how far back the first sweep (and a catch-up after downtime)
    # looks, and the MLflow 3 workspaces it sweeps (comma separated; unset: the server's default)
    sweep_seconds: float = Field(default=10.0, ge=0)
    sweep_lookback_hours: float = Field(default=24.0, gt=0)
    sweep_workspaces: str = ""
    # Unity Catalog has no registry webhooks: the "catalog.schema" pairs (comma separated) whose
    # models the Databricks registry's sweep reads
    sweep_uc_schemas: str = ""
    # poll-only: no registry webhooks at all (Unity Catalog, a registry that cannot reach us):
    # `serve` starts without a webhook secret and the sweep finds every change
    poll_only: bool = False

    # --- processing ---
    workers: int = Field(default=2, ge=1, le=64)
    # `serve` warms up on a background thread at start: the job host (when the policy launches
    # jobs), the registries and what a first validation imports (~4.5 s of CPU, ~150 MB);
    # false: the first event pays it (a serve that only records events, a CI smoke test)
    warm_up: bool = True
    max_attempts: int = Field(default=5, ge=1, le=100)
    retry_base_seconds: float = Field(default=2.0, gt=0)
    retry_max_seconds: float = Field(default=300.0, gt=0)
    lease_seconds: float = Field(default=60.0, gt=0)
    # how long a handler waits for a version to become READY before it gives the event back to
    # be retried with backoff (a worker never blocks a whole function timeout on it)
    ready_wait_seconds: float = Field(default=20.0, gt=0)
    # the reconcile tick wakes events still waiting this long after they were due (their wake-up
    # was lost: the queue was down after the ledger write)
    rewake_after_seconds: float = Field(default=60.0, gt=0)
    poll_seconds: float = Field(default=1.0, gt=0)
    max_body_bytes: int = 1024 * 1024
    signature_tolerance_seconds: int = 300
    # Extra handler modules, "package.module:MAPPING" entries, comma separated: each mapping
    # of event kind -> handler is merged over the built-in handlers.
    handler_modules: str = ""

    # --- the outside world (standard variable names, no prefix) ---
    mlflow_tracking_uri: str | None = Field(
        default=None, validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "mlflow_tracking_uri")
    )
    # Base URL for links in reports (MLOPS_HOOKS_MLFLOW_UI_URL); default: the tracking URI.
    mlflow_ui_url: str | None = None
    databricks_host: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABRICKS_HOST", "databricks_host")
    )
    databricks_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("DATABRICKS_TOKEN", "databricks_token")
    )
    # How long a command (`webhooks register`, `compare`, ...) waits for a server before it
    # fails with one line naming the server and the cause (`serve` keeps its longer retries)
    server_timeout_seconds: float = Field(default=15.0, gt=0)
    # How long databricks-sdk keeps retrying 429/5xx and connection errors (its default: 300 s).
    databricks_retry_timeout_seconds: int = Field(default=60, ge=1)
    slack_webhook_url: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_WEBHOOK_URL", "slack_webhook_url")
    )
    slack_bot_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_BOT_TOKEN", "slack_bot_token")
    )
    slack_channel: str | None = None  # MLOPS_HOOKS_SLACK_CHANNEL, with the bot token
    # verifies reviewers' Approve / Reject clicks on POST /slack/actions
    slack_signing_secret: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SLACK_SIGNING_SECRET", "slack_signing_secret"),
    )
    # Slack API base (tests point it at a local fake); slack-sdk's default otherwise.
    slack_api_url: str | None = None
    aws_endpoint_url: str | None = Field(
        default=None, validation_alias=AliasChoices("AWS_ENDPOINT_URL", "aws_endpoint_url")
    )

    @field_validator("ledger_url")
    @classmethod
    def _known_ledger_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("sqlite:///", "dynamodb://")):
            raise ValueError("must start with sqlite:/// or dynamodb://")
        return value

    @model_validator(mode="after")
    def _lookback_covers_the_tick(self) -> Settings:
        # every sweep reads from max(its watermark, now - look-back): a look-back shorter than
        # the tick would skip what was created between two ticks
        if self.sweep_seconds and self.sweep_lookback_hours * 3600 < 2 * self.sweep_seconds:
            raise ValueError(
                f"MLOPS_HOOKS_SWEEP_LOOKBACK_HOURS={self.sweep_lookback_hours:g} must cover at "
                f"least two sweep ticks (MLOPS_HOOKS_SWEEP_SECONDS={self.sweep_seconds:g})"
            )
        return self

    @property
    def resolved_ledger_url(self) -> str:
        return self.ledger_url or f"sqlite:///{self.state_dir / 'ledger.db'}"

    def table_uri(self, model: str, table: str) -> str:
        root = self.tables_uri or str(self.state_dir / "tables")
        return f"{root.rstrip('/')}/{model}/{table}"

    @property
    def resolved_policy_path(self) -> Path | None:
        """The policy file in force: MLOPS_HOOKS_POLICY, else ./mlops.yml, else none."""
        if self.policy is not None:
            return self.policy
        default = Path("mlops.yml")
        return default if default.exists() else None

    @property
    def sweep_workspace_list(self) -> list[str | None]:
        names = comma_list(self.sweep_workspaces)
        return list(names) or [None]

    @property
    def sweep_uc_schema_list(self) -> list[str]:
        return comma_list(self.sweep_uc_schemas)

    @field_validator("sweep_uc_schemas")
    @classmethod
    def _catalog_dot_schema(cls, value: str) -> str:
        bad = [n for n in comma_list(value) if n.count(".") != 1]
        if bad:
            raise ValueError(f"each entry is catalog.schema, not {bad[0]!r}")
        return value

    def secret(self, name: str) -> str | None:
        value: SecretStr | None = getattr(self, name)
        return value.get_secret_value() if value else None


def comma_list(text: str) -> list[str]:
    """A comma-separated setting's entries, trimmed, empty ones dropped."""
    return [n.strip() for n in text.split(",") if n.strip()]


def settings_from(**overrides: object) -> Settings:
    """Settings from the environment and ``overrides``, with a one-line error instead of a
    pydantic dump (the secrets document on AWS is added by bootstrap.load_settings)."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        env = f"MLOPS_HOOKS_{where.upper()}" if where != "settings" else where
        raise SettingsError(f"{env}: {first['msg']}") from None
