"""The deployed topology, run on this machine from the CloudFormation `osls package` wrote.

What the template declares is what runs: each function's handler (or image command) in its own
process (tests/support/lambda_host.py) with its declared environment (intrinsics resolved to
the moto resources); the HTTP API's routes to the function they integrate; the SQS event source
mapping with its batch size and ``ReportBatchItemFailures``; the S3 notification's event and
prefix rules; the SNS subscription; the EventBridge rules' inputs; the asynchronous functions'
two retries and their on-failure destination. DynamoDB, SQS, SNS, S3 and SSM are moto in
server mode, created from the template's own resource properties.

Hand-written because neither serverless-offline (no S3/SNS triggers, no image functions) nor
moto's Lambda (it runs functions in Docker, which this machine has not) runs this template
here. The AWS-side glue it stands in for is small: an HTTP API's payload format 2.0, S3/SNS
deliveries (moto delivers them to bridge queues, read here), SQS polling, EventBridge ticks.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3

from mlops_hooks.functions.demo.recording_http import serve_locally
from tests.support.http import HTTP
from tests.support.processes import Proc, free_port, start

ROOT = Path(__file__).resolve().parents[2]
ASYNC_RETRIES = 2  # Lambda retries a failed asynchronous invocation twice


@dataclass
class Function:
    key: str  # the template's logical id, e.g. HttpLambdaFunction
    handler: str
    environment: dict[str, Any]
    timeout: int
    proc: Proc | None = None

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        assert self.proc is not None, f"{self.key} is not running"
        answer = HTTP.post(f"{self.proc.url}/invoke", json=event, timeout=self.timeout + 30)
        answer.raise_for_status()
        return answer.json()


@dataclass
class Topology:
    template: dict[str, Any]
    moto: str
    workdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    functions: dict[str, Function] = field(default_factory=dict)
    physical: dict[str, str] = field(default_factory=dict)  # logical id -> URL / ARN / name
    arns: dict[str, str] = field(default_factory=dict)
    invocations: list[tuple[str, str]] = field(default_factory=list)  # (function, outcome)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _gateway: ThreadingHTTPServer | None = None

    @property
    def resources(self) -> dict[str, Any]:
        return self.template["Resources"]

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v["Properties"] for k, v in self.resources.items() if v["Type"] == kind}

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.moto, region_name="us-east-1")

    # --- resources, from the template's properties ------------------------------------------

    def create_resources(self) -> None:
        sqs, sns, ddb = self.client("sqs"), self.client("sns"), self.client("dynamodb")
        queues = self.of_type("AWS::SQS::Queue")
        for key in sorted(queues, key=lambda k: "RedrivePolicy" in queues[k]):  # DLQs first
            props = dict(queues[key])
            attributes = {
                name: str(props[name])
                for name in ("VisibilityTimeout", "MessageRetentionPeriod")
                if name in props
            }
            if "RedrivePolicy" in props:
                policy = dict(props["RedrivePolicy"])
                policy["deadLetterTargetArn"] = self.resolve(policy["deadLetterTargetArn"])
                attributes["RedrivePolicy"] = json.dumps(policy)
            url = sqs.create_queue(QueueName=props["QueueName"], Attributes=attributes)["QueueUrl"]
            self.physical[key] = url
            self.arns[key] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
        for key, props in self.of_type("AWS::SNS::Topic").items():
            self.physical[key] = sns.create_topic(Name=props["TopicName"])["TopicArn"]
            self.arns[key] = self.physical[key]
        for key, props in self.of_type("AWS::DynamoDB::Table").items():
            wanted = {
                k: props[k] for k in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes")
            }
            ddb.create_table(TableName=props["TableName"], BillingMode="PAY_PER_REQUEST", **wanted)
            ddb.get_waiter("table_exists").wait(TableName=props["TableName"])
            ddb.update_time_to_live(
                TableName=props["TableName"],
                TimeToLiveSpecification=props["TimeToLiveSpecification"],
            )
            self.physical[key] = props["TableName"]
        for props in self.of_type("Custom::S3").values():  # `existing: true`: the bucket is ours
            self.client("s3").create_bucket(Bucket=props["BucketName"])

    def resolve(self, value: Any) -> Any:
        """CloudFormation intrinsics the functions' environment and our resources use."""
        if isinstance(value, dict) and len(value) == 1:
            ((name, arg),) = value.items()
            if name == "Ref":
                return self.physical[arg]
            if name == "Fn::GetAtt":
                logical, attribute = arg
                assert attribute == "Arn", arg
                return self.arns[logical]
            if name == "Fn::Join":
                sep, parts = arg
                return sep.join(str(self.resolve(p)) for p in parts)
            if name == "Fn::Sub":
                return re.sub(
                    r"\$\{([^}]+)\}",
                    lambda m: {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"}.get(
                        m.group(1), self.physical.get(m.group(1), m.group(0))
                    ),
                    arg,
                )
        return value

    # --- functions ------------------------------------------------------------------------

    def start_functions(self) -> None:
        for key, props in self.of_type("AWS::Lambda::Function").items():
            handler = props.get("Handler") or props["ImageConfig"]["Command"][0]
            if not handler.startswith("mlops_hooks."):
                continue  # the framework's own custom resources
            env = {k: str(self.resolve(v)) for k, v in props["Environment"]["Variables"].items()}
            function = Function(key, handler, env, int(props.get("Timeout", 6)))
            port = free_port()
            function.proc = start(
                key,
                [sys.executable, "-m", "tests.support.lambda_host", handler, str(port)],
                url=f"http://127.0.0.1:{port}",
                ready="/",
                log_dir=self.workdir,
                env={
                    **env,
                    **self.extra_env,
                    "AWS_ENDPOINT_URL": self.moto,
                    "PYTHONPATH": str(ROOT),
                },
                cwd=self.workdir,  # /var/task: the zip's files (the policy) are found here
            )
            self.functions[key] = function

    def function_for(self, handler: str) -> Function:
        [found] = [f for f in self.functions.values() if f.handler == handler]
        return found

    def function_named(self, name: str) -> Function:
        """By the physical name (FunctionName) the framework's custom resources refer to."""
        [key] = [
            k for k, p in self.of_type("AWS::Lambda::Function").items() if p["FunctionName"] == name
        ]
        return self.functions[key]

    def invoke_async(self, function: Function, event: dict[str, Any]) -> dict[str, Any]:
        """An asynchronous invocation: two retries, then the on-failure destination."""
        answer: dict[str, Any] = {}
        for _ in range(1 + ASYNC_RETRIES):
            answer = function.invoke(event)
            if "error" not in answer:
                self.invocations.append((function.key, "ok"))
                return answer
        self.invocations.append((function.key, "failed"))
        for config in self.of_type("AWS::Lambda::EventInvokeConfig").values():
            if config["FunctionName"] == {"Ref": function.key}:
                target = config["DestinationConfig"]["OnFailure"]["Destination"]
                destination = self.physical[target["Fn::GetAtt"][0]]
                record = {
                    "version": "1.0",
                    "requestContext": {
                        "functionArn": function.key,
                        "condition": "RetriesExhausted",
                    },
                    "requestPayload": event,
                    "responsePayload": {
                        "errorType": answer["error"],
                        "errorMessage": answer["message"],
                    },
                }
                self.client("sqs").send_message(
                    QueueUrl=destination, MessageBody=json.dumps(record)
                )
        return answer

    # --- the HTTP API ---------------------------------------------------------------------

    def routes(self) -> list[tuple[str, re.Pattern[str], Function]]:
        integrations = self.of_type("AWS::ApiGatewayV2::Integration")
        out = []
        for route in self.of_type("AWS::ApiGatewayV2::Route").values():
            method, path = route["RouteKey"].split(" ", 1)
            integration = integrations[route["Target"]["Fn::Join"][1][1]["Ref"]]
            function_key = integration["IntegrationUri"]["Fn::GetAtt"][0]
            escaped = re.escape(path)  # {name+}: API Gateway's greedy parameter, then {name}
            escaped = re.sub(r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", escaped)
            escaped = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", escaped)
            pattern = re.compile("^" + escaped + "$")
            out.append((method, pattern, self.functions[function_key]))
        return out

    def start_gateway(self) -> str:
        routes = self.routes()

        class Gateway(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                url = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                for method, pattern, function in routes:  # noqa: B007 (used after the loop)
                    match = pattern.match(url.path)
                    if method == self.command and match:
                        break
                else:
                    self._answer(
                        404, {"content-type": "application/json"}, b'{"message":"Not Found"}'
                    )
                    return
                event = {  # API Gateway HTTP API, payload format 2.0
                    "version": "2.0",
                    "routeKey": f"{method} {pattern.pattern}",
                    "rawPath": url.path,
                    "rawQueryString": url.query,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "requestContext": {
                        "accountId": "123456789012",
                        "apiId": "rehearsal",
                        "domainName": "rehearsal.execute-api.us-east-1.amazonaws.com",
                        "http": {
                            "method": method,
                            "path": url.path,
                            "protocol": "HTTP/1.1",
                            "sourceIp": "127.0.0.1",
                            "userAgent": self.headers.get("user-agent", ""),
                        },
                        "requestId": str(uuid.uuid4()),
                        "routeKey": f"{method} {url.path}",
                        "stage": "$default",
                        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
                        "timeEpoch": int(time.time() * 1000),
                    },
                    "pathParameters": match.groupdict() or None,
                    "body": base64.b64encode(body).decode() if body else None,
                    "isBase64Encoded": bool(body),
                }
                answer = function.invoke(event)
                if "error" in answer:  # API Gateway's answer to a function error
                    self._answer(
                        500,
                        {"content-type": "application/json"},
                        b'{"message":"Internal Server Error"}',
                    )
                    return
                result = answer["result"]
                data = result.get("body") or ""
                raw = base64.b64decode(data) if result.get("isBase64Encoded") else data.encode()
                self._answer(result["statusCode"], result.get("headers") or {}, raw)

            def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() != "content-length":
                        self.send_header(name, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _serve

            def log_message(self, *args: object) -> None:
                return

        self._gateway, url = serve_locally(Gateway)
        return url

    # --- event sources --------------------------------------------------------------------

    def start_event_sources(self) -> None:
        sqs = self.client("sqs")
        for mapping in self.of_type("AWS::Lambda::EventSourceMapping").values():
            queue_key = mapping["EventSourceArn"]["Fn::GetAtt"][0]
            function = self.functions[mapping["FunctionName"]["Fn::GetAtt"][0]]
            self._poll(queue_key, function, mapping)
        # S3 -> the landing function: moto delivers the bucket's notifications to a bridge queue
        for props in self.of_type("Custom::S3").values():
            function = self.function_named(props["FunctionName"])
            bridge = sqs.create_queue(QueueName=f"s3-bridge-{uuid.uuid4().hex[:6]}")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=bridge, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            configs = [
                {
                    "QueueArn": arn,
                    "Events": [c["Event"]],
                    "Filter": {
                        "Key": {
                            "FilterRules": [
                                {"Name": "prefix", "Value": r["Prefix"]}
                                for r in c.get("Rules", [])
                                if "Prefix" in r
                            ]
                        }
                    },
                }
                for c in props["BucketConfigs"]
            ]
            self.client("s3").put_bucket_notification_configuration(
                Bucket=props["BucketName"],
                NotificationConfiguration={"QueueConfigurations": configs},
            )
            self._bridge(
                bridge, function, lambda body: None if body.get("Event") == "s3:TestEvent" else body
            )
        # SNS -> the alarm function: a bridge queue subscribed to the topic
        for subscription in self.of_type("AWS::SNS::Subscription").values():
            function = self.functions[subscription["Endpoint"]["Fn::GetAtt"][0]]
            topic = self.resolve(subscription["TopicArn"])
            bridge = sqs.create_queue(QueueName=f"sns-bridge-{uuid.uuid4().hex[:6]}")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=bridge, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            self.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)

            def as_lambda_sns(note: dict[str, Any], topic: str = topic) -> dict[str, Any]:
                return {
                    "Records": [
                        {
                            "EventVersion": "1.0",
                            "EventSubscriptionArn": f"{topic}:{uuid.uuid4()}",
                            "EventSource": "aws:sns",
                            "Sns": {
                                "SignatureVersion": note.get("SignatureVersion", "1"),
                                "Timestamp": note["Timestamp"],
                                "Signature": note.get("Signature", "x"),
                                "SigningCertUrl": note.get("SigningCertURL", "https://sns/x.pem"),
                                "MessageId": note["MessageId"],
                                "Message": note["Message"],
                                "MessageAttributes": note.get("MessageAttributes") or {},
                                "Type": note["Type"],
                                "UnsubscribeUrl": note.get("UnsubscribeURL", "https://sns/?u"),
                                "TopicArn": note["TopicArn"],
                                "Subject": note.get("Subject"),
                            },
                        }
                    ]
                }

            self._bridge(bridge, function, as_lambda_sns)

    def _poll(self, queue_key: str, function: Function, mapping: dict[str, Any]) -> None:
        """The SQS event source mapping: batches of BatchSize; with ReportBatchItemFailures
        only the reported messages stay (to come back after the visibility timeout)."""
        sqs, url, arn = self.client("sqs"), self.physical[queue_key], self.arns[queue_key]
        partial = "ReportBatchItemFailures" in mapping.get("FunctionResponseTypes", [])

        def loop() -> None:
            while not self._stop.is_set():
                got = sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=int(mapping.get("BatchSize", 10)),
                    WaitTimeSeconds=1,
                    AttributeNames=["All"],
                ).get("Messages", [])
                if not got:
                    continue
                event = {"Records": [sqs_record(m, arn) for m in got]}
                answer = function.invoke(event)
                if "error" in answer:
                    self.invocations.append((function.key, "failed"))
                    continue  # the whole batch comes back after the visibility timeout
                failed = set()
                if partial:
                    failed = {f["itemIdentifier"] for f in answer["result"]["batchItemFailures"]}
                self.invocations.append((function.key, f"ok, {len(failed)} left"))
                for m in got:
                    if m["MessageId"] not in failed:
                        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

        self._spawn(loop)

    def _bridge(self, url: str, function: Function, shape: Any) -> None:
        """A service's asynchronous delivery to a function, read off a moto bridge queue."""
        sqs = self.client("sqs")

        def loop() -> None:
            while not self._stop.is_set():
                for m in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []):
                    event = shape(json.loads(m["Body"]))
                    if event is not None:
                        self.invoke_async(function, event)
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

        self._spawn(loop)

    def _spawn(self, loop: Any) -> None:
        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        self._threads.append(thread)

    def tick(self, task: str, at: datetime | None = None) -> dict[str, Any]:
        """EventBridge firing the rule whose input names ``task``, for the minute ``at`` (now
        by default): its scheduled event through the target's input transformer (or its
        constant input)."""
        for name, rule in self.of_type("AWS::Events::Rule").items():
            for target in rule["Targets"]:
                payload = target_input(target, scheduled_event(name, at or datetime.now(UTC)))
                if payload.get("task") == task:
                    function = self.functions[target["Arn"]["Fn::GetAtt"][0]]
                    return self.invoke_async(function, payload)
        raise KeyError(f"no rule with task {task!r}")

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        if self._gateway is not None:
            self._gateway.shutdown()
            self._gateway.server_close()
        for function in self.functions.values():
            if function.proc is not None:
                function.proc.stop()


def scheduled_event(rule: str, at: datetime) -> dict[str, Any]:
    """The event a schedule rule sends at ``at`` (AWS's "Scheduled Event": its time is when it
    was scheduled for; here the start of ``at``'s minute, as a cron rule's is)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": at.replace(second=0, microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:123456789012:rule/{rule}"],
        "detail": {},
    }


def target_input(target: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """What the target's function receives: its constant ``Input``, or its ``InputTransformer``
    applied to the event (top-level ``$.name`` paths only, all the template uses; a string
    value goes in raw, as EventBridge puts it: the template quotes it)."""
    if "Input" in target:
        return json.loads(target["Input"])
    transformer = target.get("InputTransformer")
    if transformer is None:
        return event
    text = transformer["InputTemplate"]
    for name, path in transformer.get("InputPathsMap", {}).items():
        key = path.removeprefix("$.")
        assert "." not in key and "[" not in key, f"path {path!r}: only $.<field> is run here"
        value = event[key]
        text = text.replace(f"<{name}>", value if isinstance(value, str) else json.dumps(value))
    return json.loads(text)


def sqs_record(message: dict[str, Any], arn: str) -> dict[str, Any]:
    """One record of the event SQS hands a Lambda function."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            "ApproximateReceiveCount": message.get("Attributes", {}).get(
                "ApproximateReceiveCount", "1"
            ),
            "SentTimestamp": message.get("Attributes", {}).get("SentTimestamp", "1"),
            "SenderId": message.get("Attributes", {}).get("SenderId", "AIDA"),
            "ApproximateFirstReceiveTimestamp": message.get("Attributes", {}).get(
                "ApproximateFirstReceiveTimestamp", "1"
            ),
        },
        "messageAttributes": {},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": "us-east-1",
    }


def put_secrets(moto: str, name: str, secrets: dict[str, str]) -> None:
    boto3.client("ssm", endpoint_url=moto, region_name="us-east-1").put_parameter(
        Name=name, Type="SecureString", Value=json.dumps(secrets), Overwrite=True
    )


os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
