"""Fake of the Databricks REST endpoints mlops-hooks uses, for the real databricks-sdk."""

from __future__ import annotations

import base64
import itertools
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from tests.support.fake_http import FakeHTTP, Request

WEBHOOKS = "/api/2.0/mlflow/registry-webhooks"


def fake_databricks(workspace: Workspace | None = None) -> FakeHTTP:
    """Webhook endpoints; with a ``Workspace``, the registry endpoints over its state too."""
    fake = FakeHTTP()
    if workspace is not None:
        add_registry_routes(fake, workspace)
    hooks: dict[str, dict[str, Any]] = {}
    ids = itertools.count(1)

    @fake.route("POST", f"{WEBHOOKS}/create")
    def create(req: Request) -> tuple[int, Any]:
        body = req.json()
        hook_id = f"hook-{next(ids)}"
        spec = {k: v for k, v in (body.get("http_url_spec") or {}).items() if k != "secret"}
        hooks[hook_id] = {
            "id": hook_id,
            "events": body["events"],
            "http_url_spec": spec,
            "model_name": body.get("model_name"),
            "status": "ACTIVE",
        }
        return 200, {"webhook": hooks[hook_id]}

    @fake.route("GET", f"{WEBHOOKS}/list")
    def list_(req: Request) -> tuple[int, Any]:
        model = (req.query.get("model_name") or [None])[0]
        found = [h for h in hooks.values() if model is None or h["model_name"] == model]
        return 200, {"webhooks": found}

    @fake.route("PATCH", f"{WEBHOOKS}/update")
    def update(req: Request) -> tuple[int, Any]:
        body = req.json()
        hook = hooks[body["id"]]
        hook["events"] = body.get("events", hook["events"])
        return 200, {"webhook": hook}

    return fake


# --- model registry: versions, comments, tags, transition requests, runs; Unity Catalog ------

MLFLOW = "/api/2.0/mlflow"
UC = "/api/2.1/unity-catalog/models"


class Workspace:
    """The fake's registry state, for tests to seed and inspect."""

    def __init__(self) -> None:
        self.versions: dict[tuple[str, str], dict[str, Any]] = {}
        self.comments: dict[str, dict[str, Any]] = {}
        self.requests: list[dict[str, Any]] = []
        self.runs: dict[str, dict[str, Any]] = {}
        self.aliases: dict[tuple[str, str], int] = {}
        self.files: dict[str, bytes] = {}  # DBFS path -> content
        self.ids = itertools.count(1)
        # a registered model's last update (epoch ms): a version created, a tag set, a
        # transition requested, an alias moved, as the registries' updated timestamps say
        self.updated: dict[str, int] = {}

    def touch(self, name: str, at_ms: int | None = None) -> None:
        self.updated[name] = at_ms if at_ms is not None else int(time.time() * 1000)

    def add_version(
        self, name: str, version: str, *, created_ms: int | None = None, **fields: Any
    ) -> dict[str, Any]:
        created = created_ms if created_ms is not None else int(time.time() * 1000)
        self.versions[(name, version)] = {
            "name": name,
            "version": version,
            "status": "READY",
            "current_stage": "None",
            "tags": [],
            "creation_timestamp": created,
            **fields,
        }
        self.touch(name, max(created, self.updated.get(name, 0)))
        return self.versions[(name, version)]

    def add_model_files(self, full_name: str, version: str, folder: Path) -> None:
        """A Unity Catalog version's files, where Databricks serves them (the Files API's
        /Models/<catalog>/<schema>/<model>/<version>/...)."""
        root = f"/Models/{full_name.replace('.', '/')}/{version}"
        for path in folder.rglob("*"):
            if path.is_file():
                self.files[f"{root}/{path.relative_to(folder).as_posix()}"] = path.read_bytes()

    def tags(self, name: str, version: str) -> dict[str, str]:
        return {t["key"]: t["value"] for t in self.versions[(name, version)]["tags"]}


def _not_found(what: str) -> tuple[int, Any]:
    return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"{what} not found"}


def add_registry_routes(fake: FakeHTTP, ws: Workspace) -> None:
    def version_of(name: str, version: str) -> dict[str, Any] | None:
        return ws.versions.get((name, str(version)))

    @fake.route("GET", f"{MLFLOW}/model-versions/get")
    def get_version(req: Request) -> tuple[int, Any]:
        mv = version_of(req.query["name"][0], req.query["version"][0])
        return (200, {"model_version": mv}) if mv else _not_found("model version")

    @fake.route("GET", f"{MLFLOW}/model-versions/get-download-uri")
    def download_uri(req: Request) -> tuple[int, Any]:
        mv = version_of(req.query["name"][0], req.query["version"][0])
        return (200, {"artifact_uri": mv["artifact_uri"]}) if mv else _not_found("version")

    @fake.route("POST", f"{MLFLOW}/model-versions/set-tag")
    def set_tag(req: Request) -> tuple[int, Any]:
        body = req.json()
        mv = version_of(body["name"], body["version"])
        if mv is None:
            return _not_found("model version")
        mv["tags"] = [t for t in mv["tags"] if t["key"] != body["key"]]
        mv["tags"].append({"key": body["key"], "value": body["value"]})
        ws.touch(body["name"])
        return 200, {}

    @fake.route("POST", f"{MLFLOW}/comments/create")
    def create_comment(req: Request) -> tuple[int, Any]:
        body = req.json()
        comment_id = f"c-{next(ws.ids)}"
        ws.comments[comment_id] = {"id": comment_id, **body}
        return 200, {"comment": {"id": comment_id, "comment": body["comment"]}}

    @fake.route("PATCH", f"{MLFLOW}/comments/update")
    def update_comment(req: Request) -> tuple[int, Any]:
        body = req.json()
        if body["id"] not in ws.comments:
            return _not_found("comment")
        ws.comments[body["id"]]["comment"] = body["comment"]
        return 200, {"comment": ws.comments[body["id"]]}

    for action in ("create", "approve", "reject"):

        @fake.route("POST", f"{MLFLOW}/transition-requests/{action}")
        def transition(req: Request, action: str = action) -> tuple[int, Any]:
            body = req.json()
            ws.requests.append({"action": action, **body})
            ws.touch(body["name"])
            if action == "approve":  # the version moves; others in that stage are archived
                archive = bool(body.get("archive_existing_versions"))
                for (name, _), mv in ws.versions.items():
                    if archive and name == body["name"] and mv["current_stage"] == body["stage"]:
                        mv["current_stage"] = "Archived"
                ws.versions[(body["name"], body["version"])]["current_stage"] = body["stage"]
            return 200, {"request": {"to_stage": body["stage"]}}

    @fake.route("POST", f"{MLFLOW}/registered-models/get-latest-versions")
    def latest(req: Request) -> tuple[int, Any]:
        body = req.json()
        found: dict[str, dict[str, Any]] = {}
        for (name, _), mv in sorted(ws.versions.items(), key=lambda kv: int(kv[0][1])):
            if name == body["name"] and mv["current_stage"] in body.get("stages", []):
                found[mv["current_stage"]] = mv  # the latest per stage
        return 200, {"model_versions": list(found.values())}

    @fake.route("GET", f"{MLFLOW}/transition-requests/list")
    def list_requests(req: Request) -> tuple[int, Any]:
        name, version = req.query["name"][0], req.query["version"][0]
        mine = [r for r in ws.requests if (r["name"], r["version"]) == (name, version)]
        decided = {r["stage"] for r in mine if r["action"] != "create"}
        pending = [
            {"to_stage": r["stage"], "comment": r.get("comment"), "activity_type": "REQUESTED"}
            for r in mine
            if r["action"] == "create" and r["stage"] not in decided
        ]
        return 200, {"requests": pending}

    handles: dict[int, tuple[str, bytearray]] = {}

    @fake.route("POST", "/api/2.0/dbfs/create")
    def dbfs_create(req: Request) -> tuple[int, Any]:
        handle = next(ws.ids)
        handles[handle] = (req.json()["path"], bytearray())
        return 200, {"handle": handle}

    @fake.route("POST", "/api/2.0/dbfs/add-block")
    def dbfs_add_block(req: Request) -> tuple[int, Any]:
        body = req.json()
        handles[body["handle"]][1].extend(base64.b64decode(body["data"]))
        return 200, {}

    @fake.route("POST", "/api/2.0/dbfs/close")
    def dbfs_close(req: Request) -> tuple[int, Any]:
        path, data = handles.pop(req.json()["handle"])
        ws.files[path] = bytes(data)
        return 200, {}

    @fake.route("GET", f"{MLFLOW}/runs/get")
    def get_run(req: Request) -> tuple[int, Any]:
        run = ws.runs.get(req.query["run_id"][0])
        return (200, {"run": run}) if run else _not_found("run")

    # Unity Catalog
    @fake.route("GET", UC + "/{full_name}/versions/{version}")
    def uc_get(req: Request) -> tuple[int, Any]:
        mv = version_of(req.params["full_name"], req.params["version"])
        if mv is None:
            return _not_found("model version")
        name = req.params["full_name"]
        aliases = [
            {"alias_name": alias, "version_num": v}
            for (n, alias), v in ws.aliases.items()
            if n == name and str(v) == req.params["version"]
        ]
        return 200, {**mv, "version": int(mv["version"]), "aliases": aliases}

    @fake.route("PATCH", UC + "/{full_name}/versions/{version}")
    def uc_update(req: Request) -> tuple[int, Any]:
        mv = version_of(req.params["full_name"], req.params["version"])
        if mv is None:
            return _not_found("model version")
        mv["comment"] = req.json().get("comment", mv.get("comment"))
        return 200, {**mv, "version": int(mv["version"])}

    @fake.route("PUT", UC + "/{full_name}/aliases/{alias}")
    def uc_set_alias(req: Request) -> tuple[int, Any]:
        key = (req.params["full_name"], req.params["alias"])
        ws.aliases[key] = req.json()["version_num"]
        ws.touch(key[0])
        return 200, {"alias_name": key[1], "version_num": ws.aliases[key]}

    @fake.route("DELETE", UC + "/{full_name}/aliases/{alias}")
    def uc_delete_alias(req: Request) -> tuple[int, Any]:
        key = (req.params["full_name"], req.params["alias"])
        if ws.aliases.pop(key, None) is None:
            return _not_found("alias")
        ws.touch(key[0])
        return 200, {}

    @fake.route("GET", UC + "/{full_name}/aliases/{alias}")
    def uc_get_alias(req: Request) -> tuple[int, Any]:
        key = (req.params["full_name"], req.params["alias"])
        if key not in ws.aliases:
            return _not_found("alias")
        return 200, {"model_name": key[0], "version": ws.aliases[key]}

    # the sweep's listings, paged by a page_token that is the offset
    def paged(req: Request, items: list[dict[str, Any]], key: str) -> tuple[int, Any]:
        size = int((req.query.get("max_results") or ["100"])[0])
        start = int((req.query.get("page_token") or ["0"])[0])
        page = {key: items[start : start + size]}
        if start + size < len(items):
            page["next_page_token"] = str(start + size)
        return 200, page

    def workspace_models() -> list[str]:
        return sorted({name for name, _ in ws.versions if name.count(".") != 2})

    @fake.route("GET", f"{MLFLOW}/registered-models/search")
    def search_models(req: Request) -> tuple[int, Any]:
        order = (req.query.get("order_by") or [""])[0]
        models = [{"name": n, "last_updated_timestamp": ws.updated[n]} for n in workspace_models()]
        if order == "last_updated_timestamp DESC":
            models.sort(key=lambda m: -m["last_updated_timestamp"])
        elif order:
            return 400, {"error_code": "INVALID_PARAMETER_VALUE", "message": f"order {order}"}
        return paged(req, models, "registered_models")

    @fake.route("GET", f"{MLFLOW}/model-versions/search")
    def search_versions(req: Request) -> tuple[int, Any]:
        wanted = (req.query.get("filter") or [""])[0]  # name='x': the one filter it takes
        name = wanted.removeprefix("name='").removesuffix("'").replace("\\'", "'")
        found = [mv for (n, _), mv in sorted(ws.versions.items()) if n == name]
        return paged(req, found, "model_versions")

    @fake.route("GET", UC)
    def uc_list_models(req: Request) -> tuple[int, Any]:
        catalog, schema = req.query["catalog_name"][0], req.query["schema_name"][0]
        models = []
        for full in sorted({n for n, _ in ws.versions if n.startswith(f"{catalog}.{schema}.")}):
            aliases = [
                {"alias_name": a, "version_num": v} for (n, a), v in ws.aliases.items() if n == full
            ]
            models.append(
                {
                    "full_name": full,
                    "name": full.rsplit(".", 1)[1],
                    "catalog_name": catalog,
                    "schema_name": schema,
                    "updated_at": ws.updated[full],
                    "aliases": aliases,
                }
            )
        return paged(req, models, "registered_models")

    @fake.route("GET", UC + "/{full_name}/versions")
    def uc_list_versions(req: Request) -> tuple[int, Any]:
        full = req.params["full_name"]
        found = [
            {"model_name": full, "version": int(v), "created_at": mv["creation_timestamp"]}
            for (n, v), mv in sorted(ws.versions.items())
            if n == full
        ]
        return paged(req, found, "model_versions")

    # MLflow's Unity Catalog model download: asks whether to go through databricks-sdk's Files
    # API (yes), then lists and downloads /Models/<catalog>/<schema>/<model>/<version>/...
    @fake.route(
        "GET",
        f"{MLFLOW}/unity-catalog/registered-models:is-databricks-sdk-models-artifact-repository-enabled",
    )
    def sdk_models_repo(req: Request) -> tuple[int, Any]:
        return 200, {"is_databricks_sdk_models_artifact_repository_enabled": True}

    def children(folder: str) -> list[dict[str, Any]]:
        prefix = folder.rstrip("/") + "/"
        entries: dict[str, dict[str, Any]] = {}
        for path, data in ws.files.items():
            if path.startswith(prefix):
                head, _, rest = path[len(prefix) :].partition("/")
                entries[head] = {
                    "path": prefix + head,
                    "name": head,
                    "is_directory": bool(rest),
                    **({} if rest else {"file_size": len(data)}),
                }
        return sorted(entries.values(), key=lambda e: e["path"])

    @fake.route("GET", f"{MLFLOW}/unity-catalog/model-versions/get")
    def uc_mlflow_get(req: Request) -> tuple[int, Any]:  # MLflow's UC registry API: tags
        mv = version_of(req.query["name"][0], req.query["version"][0])
        if mv is None:
            return _not_found("model version")
        return 200, {
            "model_version": {"name": mv["name"], "version": mv["version"], "tags": mv["tags"]}
        }

    @fake.route("POST", f"{MLFLOW}/unity-catalog/model-versions/emit-lineage")
    def emit_lineage(req: Request) -> tuple[int, Any]:  # MLflow's best-effort lineage
        return 200, {}

    @fake.route("HEAD", "/api/2.0/fs/directories{path:path}")
    def directory_metadata(req: Request) -> tuple[int, Any]:
        return (200, {}) if children(unquote(req.params["path"])) else _not_found("directory")

    @fake.route("GET", "/api/2.0/fs/directories{path:path}")
    def list_directory(req: Request) -> tuple[int, Any]:
        found = children(unquote(req.params["path"]))
        return (200, {"contents": found}) if found else _not_found("directory")

    @fake.route("GET", "/api/2.0/fs/files{path:path}")
    def download_file(req: Request) -> tuple[int, Any]:
        data = ws.files.get(unquote(req.params["path"]))
        return (200, data) if data is not None else _not_found("file")

    @fake.route("HEAD", "/api/2.0/fs/files{path:path}")
    def file_metadata(req: Request) -> tuple[int, Any]:
        data = ws.files.get(unquote(req.params["path"]))
        return (200, data) if data is not None else _not_found("file")

    @fake.route("POST", f"{MLFLOW}/unity-catalog/model-versions/set-tag")
    def uc_set_tag(req: Request) -> tuple[int, Any]:
        return set_tag(req)


# --- Jobs API: jobs by name, run-now with idempotency tokens, run states --------------------

JOBS = "/api/2.2/jobs"


class JobsState:
    """The fake's jobs and runs. Like Databricks, a repeated idempotency token gets the run it
    started the first time, not a new one."""

    def __init__(self, names: list[str]) -> None:
        self.jobs = {i: name for i, name in enumerate(names, start=100)}
        self.runs: dict[int, dict[str, Any]] = {}
        self.by_token: dict[str, int] = {}
        self._ids = itertools.count(9000)

    def finish(self, run_id: int, result: str, message: str = "") -> None:
        self.runs[run_id]["state"] = {
            "life_cycle_state": "TERMINATED",
            "result_state": result,
            "state_message": message,
        }


def add_jobs_routes(fake: FakeHTTP, state: JobsState) -> None:
    @fake.route("GET", f"{JOBS}/list")
    def list_jobs(req: Request) -> tuple[int, Any]:
        name = (req.query.get("name") or [None])[0]
        found = [
            {"job_id": i, "settings": {"name": n}}
            for i, n in state.jobs.items()
            if name is None or n == name
        ]
        return 200, {"jobs": found, "has_more": False}

    @fake.route("POST", f"{JOBS}/run-now")
    def run_now(req: Request) -> tuple[int, Any]:
        body = req.json()
        token = body.get("idempotency_token")
        if token and token in state.by_token:
            return 200, {"run_id": state.by_token[token]}
        run_id = next(state._ids)
        state.runs[run_id] = {
            "job_id": body["job_id"],
            "job_parameters": body.get("job_parameters", {}),
            "state": {"life_cycle_state": "RUNNING"},
        }
        if token:
            state.by_token[token] = run_id
        return 200, {"run_id": run_id, "number_in_job": run_id}

    @fake.route("GET", f"{JOBS}/runs/get")
    def get_run(req: Request) -> tuple[int, Any]:
        run_id = int(req.query["run_id"][0])
        run = state.runs[run_id]
        return 200, {
            "run_id": run_id,
            "job_id": run["job_id"],
            "state": run["state"],
            "run_page_url": f"https://fake.databricks/#job/{run['job_id']}/run/{run_id}",
        }
