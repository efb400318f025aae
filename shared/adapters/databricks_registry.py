"""Registry adapter for a Databricks workspace, through databricks-sdk.

Two registries live there:

- the **workspace model registry** (names like ``churn``): reports are registry *comments*
  (``model_registry.create_comment``; our comment's id is kept in the version tag
  ``mlops.comment.<section>`` so a re-run updates it instead of adding a second), tags, stage
  transition requests (create / approve / reject);
- **Unity Catalog** (three-part names ``catalog.schema.model``): reports go into a managed
  section of the version's comment field, and promotion uses aliases.

The SDK's built-in retries handle 429 (honouring Retry-After) and 5xx, bounded by
``MLOPS_HOOKS_DATABRICKS_RETRY_TIMEOUT_SECONDS``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from mlops_hooks.shared.adapters.markdown import replace_section
from mlops_hooks.shared.adapters.registry_common import (
    RegistryError,
    drop_alias,
    move_champion,
    wait_until_ready,
)
from mlops_hooks.shared.domain import tags
from mlops_hooks.shared.domain.errors import ConfigError, VersionNotFound
from mlops_hooks.shared.domain.events import is_unity_catalog
from mlops_hooks.shared.domain.sweep import ChangeScan, RegistryChange
from mlops_hooks.shared.ports.registry import Lineage, ModelVersion
from mlops_hooks.shared.ports.renderer import Image

if TYPE_CHECKING:
    from mlops_hooks.shared.adapters.pyfunc_model import PyfuncModel
    from mlops_hooks.shared.settings import Settings

COMMENT_TAG = tags.COMMENT
MLFLOW_API = "/api/2.0/mlflow"
UC_API = "/api/2.1/unity-catalog"
SWEEP_PAGE = 1000


class DatabricksRegistry:
    def __init__(self, client: Any, host: str, *, uc_schemas: tuple[str, ...] = ()) -> None:
        self.client = client  # databricks.sdk.WorkspaceClient
        self.host = host.rstrip("/")
        self.uc_schemas = uc_schemas  # "catalog.schema": the Unity Catalog the sweep reads

    @classmethod
    def from_settings(cls, settings: Settings) -> DatabricksRegistry:
        return cls.connect(
            settings.databricks_host,
            settings.secret("databricks_token"),
            retry_timeout_seconds=settings.databricks_retry_timeout_seconds,
            uc_schemas=tuple(settings.sweep_uc_schema_list),
        )

    @classmethod
    def connect(
        cls,
        host: str | None,
        token: str | None,
        *,
        retry_timeout_seconds: int = 60,
        uc_schemas: tuple[str, ...] = (),
    ) -> DatabricksRegistry:
        from mlops_hooks.shared.adapters.databricks_client import workspace_client

        client, url = workspace_client(host, token, retry_timeout_seconds=retry_timeout_seconds)
        return cls(client, url, uc_schemas=uc_schemas)

    def in_workspace(self, workspace: str | None) -> DatabricksRegistry:
        """Databricks has no MLflow 3 workspaces: a Databricks workspace is its own host."""
        if workspace is not None:
            raise ConfigError(
                f"MLflow workspace {workspace!r} given for a Databricks registry "
                "(a Databricks workspace is its own host)"
            )
        return self

    # --- versions --------------------------------------------------------------------------

    def get_version(self, name: str, version: str) -> ModelVersion:
        from databricks.sdk.errors import NotFound, ResourceDoesNotExist

        try:
            return self._get_version(name, version)
        except (NotFound, ResourceDoesNotExist):
            raise VersionNotFound(f"{name} v{version} does not exist in the registry") from None

    def _get_version(self, name: str, version: str) -> ModelVersion:
        if is_unity_catalog(name):
            info = self.client.model_versions.get(name, int(version), include_aliases=True)
            return ModelVersion(
                name=name,
                version=str(info.version),
                status=info.status.value if info.status else "READY",
                source=info.source,
                run_id=info.run_id or None,
                description=info.comment or "",
                tags=self._uc_tags(name, version),
                aliases=[a.alias_name for a in info.aliases or [] if a.alias_name],
            )
        mv = self.client.model_registry.get_model_version(name, str(version)).model_version
        return ModelVersion(
            name=name,
            version=str(mv.version),
            status=mv.status.value if mv.status else "READY",
            source=mv.source,
            run_id=mv.run_id or None,
            description=mv.description or "",
            tags={t.key: t.value for t in mv.tags or [] if t.key},
            stage=mv.current_stage,
        )

    def _uc_tags(self, name: str, version: str) -> dict[str, str]:
        """A UC version's tags (the verdict a promotion waits for): databricks-sdk's catalog
        model has none, so MLflow's own UC registry endpoint, the one ``set_tags`` writes
        through, reads them, through the SDK's client (auth, retries) all the same."""
        found = self.client.api_client.do(
            "GET",
            f"{MLFLOW_API}/unity-catalog/model-versions/get",
            query={"name": name, "version": str(version)},
        )
        tags = (found.get("model_version") or {}).get("tags") or []
        return {t["key"]: t.get("value", "") for t in tags if t.get("key")}

    def wait_ready(self, name: str, version: str, *, timeout: float = 300) -> ModelVersion:
        return wait_until_ready(self.get_version, name, version, timeout)

    def load_model(
        self, name: str, version: str, *, known: ModelVersion | None = None
    ) -> PyfuncModel:
        """Artifacts from the registry's download URI, loaded with MLflow's pyfunc.

        No ``mlflow.models.evaluate`` run here (it would log to this process's tracking
        server, not the workspace): the suite computes its metrics itself.
        """
        from mlops_hooks.shared.adapters.pyfunc_model import PyfuncModel

        self._credentials_for_mlflow()
        if is_unity_catalog(name):
            return PyfuncModel(
                f"models:/{name}/{version}",
                tracking_uri="databricks",
                registry_uri="databricks-uc",
                can_evaluate=False,
            )
        uri = self.client.model_registry.get_model_version_download_uri(name, str(version))
        return PyfuncModel(str(uri.artifact_uri), tracking_uri="databricks", can_evaluate=False)

    def _credentials_for_mlflow(self) -> None:
        """MLflow's downloads (Unity Catalog, DBFS) authenticate through databricks-sdk's default
        configuration, which reads the environment: give it this registry's workspace and token
        (from the settings, or the SSM secrets document on AWS), not whatever else is there.
        It also opens a tracking store: with none chosen, MLflow's default is a SQLite file in
        the working directory (read-only on Lambda), so the workspace is chosen. Process-wide,
        as MLflow's own configuration is; a worker talks to one workspace."""
        import os

        import mlflow
        from mlflow.tracking._tracking_service.utils import is_tracking_uri_set

        config = self.client.config
        os.environ["DATABRICKS_HOST"] = str(config.host)
        if config.token:
            os.environ["DATABRICKS_TOKEN"] = str(config.token)
        if not is_tracking_uri_set():  # an MLflow server's registry in this process sets it
            mlflow.set_tracking_uri("databricks")

    def lineage(self, run_id: str) -> Lineage:
        from databricks.sdk.errors import NotFound

        try:
            run = self.client.experiments.get_run(run_id).run
        except NotFound:
            return Lineage(run_exists=False)
        names, training = [], 0
        for item in (run.inputs.dataset_inputs if run.inputs else None) or []:
            tags = {t.key: t.value for t in item.tags or []}
            context = tags.get("mlflow.data.context")
            dataset = item.dataset.name if item.dataset else "dataset"
            names.append(f"{dataset} ({context or 'no context'})")
            training += context in ("training", "train")
        params = (run.data.params if run.data else None) or []
        return Lineage(
            run_exists=True,
            params=len(params),
            param_values={p.key: p.value for p in params if p.key is not None},
            datasets=names,
            training_datasets=training,
            run_url=self._run_link(run.info.experiment_id if run.info else None, run_id),
            metrics={
                m.key: float(m.value)
                for m in ((run.data.metrics if run.data else None) or [])
                if m.key is not None and m.value is not None
            },
        )

    # --- reports and tags -------------------------------------------------------------------

    def write_report(self, name: str, version: str, section: str, markdown: str) -> None:
        if is_unity_catalog(name):
            current = self.get_version(name, version).description
            updated = replace_section(current, section, markdown)
            if updated != current:
                self.client.model_versions.update(name, int(version), comment=updated)
            return
        from databricks.sdk.errors import NotFound

        tag = COMMENT_TAG.format(section=section)
        comment_id = self.get_version(name, version).tags.get(tag)
        if comment_id:
            try:
                self.client.model_registry.update_comment(comment_id, markdown)
                return
            except NotFound:  # someone deleted our comment: write a new one
                pass
        created = self.client.model_registry.create_comment(name, str(version), markdown)
        if created.comment and created.comment.id:
            self.client.model_registry.set_model_version_tag(
                name, str(version), tag, str(created.comment.id)
            )

    def set_tags(self, name: str, version: str, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            if is_unity_catalog(name):
                # databricks-sdk has no typed call for UC model-version tags: MLflow's own
                # UC registry endpoint, through the SDK's client (auth, retries) all the same.
                self.client.api_client.do(
                    "POST",
                    "/api/2.0/mlflow/unity-catalog/model-versions/set-tag",
                    body={"name": name, "version": str(version), "key": key, "value": value},
                )
            else:
                self.client.model_registry.set_model_version_tag(name, str(version), key, value)

    # --- aliases (Unity Catalog) and stage transitions (workspace registry) ------------------

    def get_alias(self, name: str, alias: str) -> str | None:
        from databricks.sdk.errors import NotFound

        self._needs_unity_catalog(name, "aliases")
        try:
            return str(self.client.model_versions.get_by_alias(name, alias).version)
        except NotFound:
            return None

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self._needs_unity_catalog(name, "aliases")
        self.client.registered_models.set_alias(name, alias, int(version))

    def remove_alias(self, name: str, alias: str) -> None:
        self._needs_unity_catalog(name, "aliases")
        self.client.registered_models.delete_alias(name, alias)

    def request_promotion(
        self, name: str, version: str, *, alias: str, stage: str, comment: str
    ) -> str:
        if is_unity_catalog(name):
            self.set_alias(name, alias, version)
            return f"set alias {alias!r} on version {version}"
        # a replayed event must not open a second request for the same stage
        if self._open_request(name, version, stage):
            return f"transition request to {stage} already open for version {version}"
        self.client.model_registry.create_transition_request(
            name, str(version), stage, comment=comment
        )
        return f"transition request to {stage} for version {version}"

    def champion_version(self, name: str, *, alias: str, stage: str) -> str | None:
        if is_unity_catalog(name):
            return self.get_alias(name, alias)
        latest = self.client.model_registry.get_latest_versions(name, stages=[stage])
        return str(latest[0].version) if latest else None

    def promote(
        self, name: str, version: str, *, alias: str, previous_alias: str, stage: str, comment: str
    ) -> str:
        if is_unity_catalog(name):
            return move_champion(self, name, version, alias, previous_alias)
        if not self._open_request(name, version, stage):
            return f"no open transition request to {stage} for v{version} (already decided)"
        self.approve_transition(name, version, stage, comment)
        return f"approved the transition of v{version} to {stage} (existing versions archived)"

    def reject(
        self, name: str, version: str, *, stage: str, comment: str, alias: str | None = None
    ) -> str:
        if is_unity_catalog(name):
            self.set_tags(name, version, {tags.PROMOTION: "rejected"})
            done = f"tagged v{version} mlops.promotion=rejected"
            return done + drop_alias(self, name, version, alias)
        if not self._open_request(name, version, stage):
            return f"no open transition request to {stage} for v{version} (already decided)"
        self.reject_transition(name, version, stage, comment)
        return f"rejected the transition of v{version} to {stage}"

    def _open_request(self, name: str, version: str, stage: str) -> bool:
        requests = self.client.model_registry.list_transition_requests(name, str(version))
        return any(r.to_stage == stage for r in requests)

    def approve_transition(self, name: str, version: str, stage: str, comment: str) -> None:
        self.client.model_registry.approve_transition_request(
            name, str(version), stage, archive_existing_versions=True, comment=comment
        )

    def reject_transition(self, name: str, version: str, stage: str, comment: str) -> None:
        self.client.model_registry.reject_transition_request(
            name, str(version), stage, comment=comment
        )

    def log_artifact(self, run_id: str, image: Image, artifact_path: str) -> str | None:
        """Into the run's artifact folder on DBFS (workspace runs keep artifacts there)."""
        run = self.client.experiments.get_run(run_id).run
        root = run.info.artifact_uri if run and run.info else None
        if not root or not root.startswith("dbfs:/"):
            return None
        target = f"{root.removeprefix('dbfs:')}/{artifact_path}/{image.name}"
        self.client.dbfs.upload(target, io.BytesIO(image.data), overwrite=True)
        return None  # DBFS files have no browser URL; the run's page lists them

    # --- links --------------------------------------------------------------------------------

    def changes_since(
        self, since_ms: int, *, aliases: frozenset[str], promote_tag: str
    ) -> ChangeScan:
        """For the sweep: the workspace registry, and the Unity Catalog schemas in
        ``uc_schemas``.

        Workspace registry: models by ``last_updated_timestamp DESC`` (its only time ordering;
        it cannot filter or order versions by time), stopping at the first older than
        ``since_ms``: one call when nothing is new. For each updated model, its versions (one
        call), the promote tag on them, and the open transition requests of those not archived
        (one call each). Unity Catalog: its model listing has no ordering or time filter, so
        each schema costs one call per page of models (aliases come with them); the versions
        of models updated since ``since_ms`` cost one call per model.

        The SDK's typed iterators hide their page requests: the pages are read here through
        its client (same auth, same retries), so calls are counted and paging stops early.
        """
        calls = [0]
        changes = self._workspace_changes(since_ms, promote_tag, calls)
        for schema in self.uc_schemas:
            changes += self._uc_changes(schema, since_ms, aliases, calls)
        return ChangeScan(changes, calls[0])

    def _workspace_changes(
        self, since_ms: int, promote_tag: str, calls: list[int]
    ) -> list[RegistryChange]:
        updated = []
        query = {"order_by": "last_updated_timestamp DESC", "max_results": SWEEP_PAGE}
        for model in self._items(
            f"{MLFLOW_API}/registered-models/search", "registered_models", query, calls
        ):
            if int(model.get("last_updated_timestamp") or 0) < since_ms:
                break  # stops paging: the rest were updated earlier still
            updated.append(model["name"])
        changes: list[RegistryChange] = []
        for name in updated:
            quoted = name.replace("'", "\\'")
            versions = self._items(
                f"{MLFLOW_API}/model-versions/search",
                "model_versions",
                {"filter": f"name='{quoted}'", "max_results": SWEEP_PAGE},
                calls,
            )
            for mv in versions:
                version, created = str(mv["version"]), int(mv.get("creation_timestamp") or 0)
                if created >= since_ms:
                    changes.append(RegistryChange("version_created", name, version, created))
                tag = {t.get("key"): t.get("value") for t in mv.get("tags") or []}.get(promote_tag)
                if tag:
                    changes.append(RegistryChange("tag", name, version, value=tag))
                if mv.get("current_stage") != "Archived":
                    changes += [
                        RegistryChange("transition_request", name, version, value=r.to_stage)
                        for r in self._open_requests(name, version, calls)
                        if r.to_stage
                    ]
        return changes

    def _uc_changes(
        self, schema: str, since_ms: int, aliases: frozenset[str], calls: list[int]
    ) -> list[RegistryChange]:
        catalog, _, schema_name = schema.partition(".")
        changes: list[RegistryChange] = []
        updated = []
        query = {"catalog_name": catalog, "schema_name": schema_name, "max_results": SWEEP_PAGE}
        for model in self._items(f"{UC_API}/models", "registered_models", query, calls):
            full = model.get("full_name") or f"{catalog}.{schema_name}.{model['name']}"
            changes += [
                RegistryChange("alias", full, str(a["version_num"]), value=a["alias_name"])
                for a in model.get("aliases") or []
                if a.get("alias_name") in aliases
            ]
            if int(model.get("updated_at") or 0) >= since_ms:
                updated.append(full)
        for full in updated:
            for mv in self._items(
                f"{UC_API}/models/{full}/versions",
                "model_versions",
                {"max_results": SWEEP_PAGE},
                calls,
            ):
                created = int(mv.get("created_at") or 0)
                if created >= since_ms:
                    changes.append(
                        RegistryChange("version_created", full, str(mv["version"]), created)
                    )
        return changes

    def _items(
        self, path: str, key: str, query: dict[str, Any], calls: list[int]
    ) -> Iterator[dict[str, Any]]:
        """The items of a paged GET, page by page while the caller reads (``calls[0]`` counts
        the requests; a page may be empty and still have a next one, as Unity Catalog says)."""
        query = dict(query)
        while True:
            page = self.client.api_client.do("GET", path, query=query)
            calls[0] += 1
            yield from page.get(key) or []
            token = page.get("next_page_token")
            if not token:
                return
            query["page_token"] = token

    def _open_requests(self, name: str, version: str, calls: list[int]) -> list[Any]:
        calls[0] += 1
        return list(self.client.model_registry.list_transition_requests(name, version))

    def version_url(self, name: str, version: str) -> str | None:
        if is_unity_catalog(name):
            catalog, schema, model = name.split(".")
            return f"{self.host}/explore/data/models/{catalog}/{schema}/{model}/version/{version}"
        return f"{self.host}/#mlflow/models/{quote(name, safe='')}/versions/{version}"

    def run_url(self, run_id: str) -> str | None:
        run = self.client.experiments.get_run(run_id).run
        return self._run_link(run.info.experiment_id if run and run.info else None, run_id)

    def _run_link(self, experiment_id: str | None, run_id: str) -> str:
        return f"{self.host}/#mlflow/experiments/{experiment_id or 0}/runs/{run_id}"

    @staticmethod
    def _needs_unity_catalog(name: str, what: str) -> None:
        if not is_unity_catalog(name):
            raise RegistryError(
                f"{name}: the workspace model registry has no {what}; "
                "use stages (transition requests) or a Unity Catalog model"
            )
