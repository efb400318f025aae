"""The demo's embedded stack: moto (S3, SQS, SNS, DynamoDB) and an MLflow 3 server as
subprocesses, a Slack sink in this process, and `serve` (worker pool, scheduler, SQS ingest)
wired to all of them. Every process is stopped by its own pid."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from mlops_hooks.functions.demo.processes import (
    Proc,
    cli,
    free_port,
    start_mlflow_server,
    start_moto_server,
    start_serve_process,
)
from mlops_hooks.functions.demo.slack import SlackSink

BUCKET = "mlops-demo"
REVIEWER = "U0DEMOREVIEW"
AWS_ENV = {
    # moto accepts anything; these keep boto3 away from real credentials and real AWS
    "AWS_ACCESS_KEY_ID": "demo",
    "AWS_SECRET_ACCESS_KEY": "demo",
    "AWS_SESSION_TOKEN": "demo",
    "AWS_DEFAULT_REGION": "us-east-1",
}
# glibc's malloc for every process the demo starts: memory freed by a handler (a model's frames,
# an evaluation) goes back to the system instead of staying in the heap (glibc raises its mmap
# threshold after the first large free, up to 32 MB, and trims only above 128 KB of free top):
# `serve` held 0.40-0.43 GiB at the demo's peak instead of 0.49-0.55, in the same time
LEAN_MALLOC = {"MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_TRIM_THRESHOLD_": "131072"}
# Local Spark for small tables (the demo's jobs, and the test suite's): one core and a small JVM
# (one Python worker of ~230 MB instead of two; a serial collector; the client compiler only:
# a short job runs Spark's code paths a few times, and in the suite's Spark tests the JIT's
# threads spent 2.9 s of CPU instead of 26.5, the JVM 29 s instead of 45, in the same time; a
# heap that starts at 32 MB and grows as needed instead of 1/64 of the machine's memory: 0.46
# GiB instead of 0.56 at the demo's peak; a young generation of 24 MB, not ~55: the full demo's
# peak 1.80 GiB instead of 1.84 in the same hour, for ~2 s more of collection in its 70 s)
SMALL_SPARK = {
    "MLOPS_HOOKS_SPARK_MASTER": "local[1]",
    # Spark's classes mapped from an archive when `make spark-classes` built one: its jobs are
    # mostly start-up (shared/adapters/spark_classes.py; the job host warm in ~7.5 s, not 11)
    "MLOPS_HOOKS_SPARK_CLASS_ARCHIVE": "on",
    "MLOPS_HOOKS_SPARK_DRIVER_MEMORY": "512m",  # Spark needs 450 MB at least
    "MLOPS_HOOKS_SPARK_JAVA_OPTIONS": (
        "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:MaxHeapFreeRatio=30 -Xmn24m"
        " -XX:MinHeapFreeRatio=10 -Xms32m -Xss256k -XX:ReservedCodeCacheSize=32m"
    ),
}


@dataclass
class Stack:
    folder: Path
    moto: Proc | None = None
    mlflow: Proc | None = None
    serve: Proc | None = None
    sink: SlackSink = field(default_factory=SlackSink)
    webhook_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    signing_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    serve_port: int = field(default_factory=free_port)
    queue_url: str = ""
    topic_arn: str = ""

    @property
    def tables(self) -> Path:
        return self.folder / "tables"

    @property
    def state(self) -> Path:
        return self.folder / "state"

    def start_services(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        os.environ.update(AWS_ENV | LEAN_MALLOC)  # what every process started from here gets
        # MLflow's start-up (the longest, ~3.5 s) overlaps moto's, `serve`'s and its job host's
        # warm-up (the first train waits for that host): `start_serve` waits for MLflow before
        # registering
        self.mlflow = start_mlflow_server(self.folder, wait=False)
        self.moto = start_moto_server(self.folder)
        os.environ["AWS_ENDPOINT_URL"] = self.moto.url
        self.sink.start()
        self._aws()

    def _aws(self) -> None:
        import boto3

        s3, sqs, sns = (boto3.client(n) for n in ("s3", "sqs", "sns"))
        s3.create_bucket(Bucket=BUCKET)
        self.queue_url = sqs.create_queue(QueueName="mlops-demo-ingest")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        s3.put_bucket_notification_configuration(
            Bucket=BUCKET,
            NotificationConfiguration={
                "QueueConfigurations": [  # new data, and the outcomes (labels) known later
                    {
                        "QueueArn": arn,
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}},
                    }
                    for prefix in ("landing/", "labels/")
                ]
            },
        )
        self.topic_arn = sns.create_topic(Name="mlops-demo-alarms")["TopicArn"]
        sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=arn)

    def env(self, policy: Path) -> dict[str, str]:
        """What `serve` and the CLI get: every setting explicit, nothing from the user's shell."""
        assert self.mlflow is not None and self.moto is not None
        return {
            **AWS_ENV,
            "AWS_ENDPOINT_URL": self.moto.url,
            "MLFLOW_TRACKING_URI": self.mlflow.url,
            "MLOPS_HOOKS_MLFLOW_WEBHOOK_SECRET": self.webhook_secret,
            "MLOPS_HOOKS_STATE_DIR": str(self.state),
            "MLOPS_HOOKS_POLICY": str(policy),
            "MLOPS_HOOKS_INGEST_QUEUE_URL": self.queue_url,
            "MLOPS_HOOKS_ALARM_TOPIC_ARN": self.topic_arn,
            "MLOPS_HOOKS_TABLES_URI": str(self.tables),
            "MLOPS_HOOKS_POLL_SECONDS": "0.2",
            "MLOPS_HOOKS_SCHEDULER_POLL_SECONDS": "1",
            "SLACK_BOT_TOKEN": "xoxb-demo",
            "MLOPS_HOOKS_SLACK_CHANNEL": "#mlops-demo",
            "MLOPS_HOOKS_SLACK_API_URL": self.sink.url + "/api/",
            "SLACK_SIGNING_SECRET": self.signing_secret,
            "MLFLOW_DISABLE_TELEMETRY": "true",
            **SMALL_SPARK,
        }

    def start_serve(self, policy: Path) -> None:
        """`serve` on its fixed port (the MLflow webhook keeps pointing at it across restarts)."""
        env = self.env(policy)
        self.serve = start_serve_process("serve", self.folder, env, self.serve_port)
        assert self.mlflow is not None
        self.mlflow.wait_ready()
        done = cli(
            "webhooks",
            "register",
            "--url",
            f"{self.serve.url}/webhooks/mlflow",
            env=env,
            cwd=self.folder,
        )
        if done.returncode != 0:
            raise RuntimeError(f"webhooks register failed: {done.stderr.strip()}")

    def stop_serve(self) -> None:
        if self.serve is not None:
            self.serve.stop()
            self.serve = None

    def stop(self) -> None:
        """Everything this stack started, newest first, each by its own pid."""
        self.stop_serve()
        self.sink.stop()
        for proc in (self.mlflow, self.moto):
            if proc is not None:
                proc.stop()
