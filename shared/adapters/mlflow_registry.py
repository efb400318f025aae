"""Registry adapter for an open-source MLflow 3 tracking server."""

from __future__ import annotations

import copy
import functools
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from mlops_hooks.shared.adapters.markdown import replace_section
from mlops_hooks.shared.adapters.mlflow_workspace import with_workspace, workspace_scope
from mlops_hooks.shared.adapters.registry_common import (
    drop_alias,
    move_champion,
    wait_until_ready,
)
from mlops_hooks.shared.domain import tags
from mlops_hooks.shared.domain.errors import VersionNotFound
from mlops_hooks.shared.domain.sweep import ChangeScan, RegistryChange
from mlops_hooks.shared.ports.registry import Lineage, ModelVersion
from mlops_hooks.shared.ports.renderer import Image

if TYPE_CHECKING:
    from mlops_hooks.shared.adapters.pyfunc_model import PyfuncModel

Call = TypeVar("Call", bound=Callable[..., Any])
# The sweep's first page of versions, newest first: an idle registry answers it with versions
# older than the watermark, and the sweep stops there (one call)
SWEEP_FIRST_PAGE = 100
SWEEP_PAGE = 1000  # later pages, and the alias and tag listings (MLflow's registered-model cap)


def _in_workspace(method: Call) -> Call:
    """Run the registry call in this view's workspace (none: the server's default)."""

    @functools.wraps(method)
    def scoped(self: MlflowRegistry, *args: Any, **kwargs: Any) -> Any:
        with workspace_scope(self.workspace):
            return method(self, *args, **kwargs)

    return scoped  # type: ignore[return-value]


class MlflowRegistry:
    workspace: str | None = None  # an MLflow 3 workspace (MLFLOW_ENABLE_WORKSPACES)

    def __init__(self, tracking_uri: str, *, ui_url: str | None = None) -> None:
        import mlflow
        from mlflow import MlflowClient

        # pyfunc.load_model resolves models:/ URIs through the process-wide tracking URI; a
        # process talks to one registry, so set it once here (swapping it per call would race
        # between worker threads).
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
        self.tracking_uri = tracking_uri
        self.ui_url = (ui_url or tracking_uri).rstrip("/")
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    def in_workspace(self, workspace: str | None) -> MlflowRegistry:
        """This registry seen from one workspace (the client is shared; MLflow's is stateless)."""
        if workspace == self.workspace:
            return self
        view = copy.copy(self)
        view.workspace = workspace
        return view

    @_in_workspace
    def get_version(self, name: str, version: str) -> ModelVersion:
        from mlflow.exceptions import MlflowException

        try:
            mv = self.client.get_model_version(name, str(version))
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                raise VersionNotFound(f"{name} v{version} does not exist in the registry") from None
            raise
        return ModelVersion(
            name=mv.name,
            version=str(mv.version),
            status=str(mv.status),
            source=mv.source,
            run_id=mv.run_id or None,
            description=mv.description or "",
            tags=dict(mv.tags or {}),
            aliases=list(mv.aliases or []),
            stage=mv.current_stage,
        )

    def wait_ready(self, name: str, version: str, *, timeout: float = 300) -> ModelVersion:
        return wait_until_ready(self.get_version, name, version, timeout)

    @_in_workspace
    def load_model(
        self, name: str, version: str, *, known: ModelVersion | None = None
    ) -> PyfuncModel:
        """The version as pyfunc; an evaluation runs in its source run's experiment, looked up
        when the evaluation starts (after the verdict, in validation), not before the load."""
        from mlops_hooks.shared.adapters.pyfunc_model import PyfuncModel

        run_id = (known or self.get_version(name, version)).run_id
        # the version's files by their own location: a models:/ URI is parsed as a URL, so a
        # name with "?", "#" or "%" would name another model (or none)
        location = self._versions.get_model_version_download_uri(name, str(version))
        return PyfuncModel(
            location,
            experiment_id=functools.partial(self.experiment_of, run_id) if run_id else None,
            run_name=f"validate {name} v{version}",
            run_tags={tags.RUN_MODEL: name, tags.RUN_VERSION: str(version)},
            run_link=self._run_link,
            scope=lambda: workspace_scope(self.workspace),
        )

    @_in_workspace
    def lineage(self, run_id: str) -> Lineage:
        from mlflow.exceptions import MlflowException

        try:
            run = self.client.get_run(run_id)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return Lineage(run_exists=False)
            raise
        names, training = [], 0
        for item in run.inputs.dataset_inputs if run.inputs else []:
            context = next((t.value for t in item.tags if t.key == "mlflow.data.context"), None)
            names.append(f"{item.dataset.name} ({context or 'no context'})")
            training += context in ("training", "train")
        return Lineage(
            run_exists=True,
            params=len(run.data.params),
            param_values=dict(run.data.params),
            datasets=names,
            training_datasets=training,
            run_url=self._run_link(run.info.experiment_id, run_id),
            metrics=dict(run.data.metrics),
        )

    @_in_workspace
    def request_promotion(
        self, name: str, version: str, *, alias: str, stage: str, comment: str
    ) -> str:
        """OSS MLflow has no transition requests: the challenger alias is the request."""
        self.set_alias(name, alias, version)
        return f"set alias {alias!r} on version {version}"

    @_in_workspace
    def write_report(self, name: str, version: str, section: str, markdown: str) -> None:
        current = self.get_version(name, version).description  # no prompt round trip in it
        updated = replace_section(current, section, markdown)
        if updated != current:
            self._versions.update_model_version(name, str(version), description=updated)

    @_in_workspace
    def set_tags(self, name: str, version: str, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            self._versions.set_model_version_tag(name, str(version), key, str(value))

    @functools.cached_property
    def _versions(self) -> Any:
        """MLflow's registry client under ``MlflowClient``, for writes to (and the download URI
        of) a version reached through ``MlflowClient``'s reads first (``get_version``,
        ``get_alias``: they refuse a prompt's version by its own tags): the same calls without
        the prompt check ``MlflowClient`` puts before each, a round trip of its own
        (get-registered-model: 7 of the 20 registry calls of a verdict were these). Without that
        client (another MLflow), ``MlflowClient`` itself."""
        registry_client = getattr(self.client, "_get_registry_client", None)
        return registry_client() if registry_client else self.client

    @_in_workspace
    def get_alias(self, name: str, alias: str) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            return str(self.client.get_model_version_by_alias(name, alias).version)
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return None
            raise

    @_in_workspace
    def set_alias(self, name: str, alias: str, version: str) -> None:
        self.client.set_registered_model_alias(name, alias, str(version))

    def champion_version(self, name: str, *, alias: str, stage: str) -> str | None:
        return self.get_alias(name, alias)

    @_in_workspace
    def promote(
        self, name: str, version: str, *, alias: str, previous_alias: str, stage: str, comment: str
    ) -> str:
        """Move ``alias`` to the version; the version it leaves keeps ``previous_alias``."""
        done = move_champion(self, name, version, alias, previous_alias)
        self.set_tags(name, version, {tags.PROMOTION: "promoted"})
        return done

    @_in_workspace
    def reject(
        self, name: str, version: str, *, stage: str, comment: str, alias: str | None = None
    ) -> str:
        self.set_tags(name, version, {tags.PROMOTION: "rejected"})
        return f"tagged v{version} mlops.promotion=rejected" + drop_alias(
            self, name, version, alias
        )

    @_in_workspace
    def remove_alias(self, name: str, alias: str) -> None:
        self.client.delete_registered_model_alias(name, alias)

    @_in_workspace
    def log_artifact(self, run_id: str, image: Image, artifact_path: str) -> str | None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / image.name
            path.write_bytes(image.data)
            self.client.log_artifact(run_id, str(path), artifact_path)
        return f"{self.ui_url}/get-artifact?path={artifact_path}/{image.name}&run_uuid={run_id}"

    @_in_workspace
    def changes_since(
        self, since_ms: int, *, aliases: frozenset[str], promote_tag: str
    ) -> ChangeScan:
        """Versions by ``creation_timestamp DESC`` until one is older than ``since_ms``;
        the promote tag by MLflow's tag filter; aliases from the registered-model listing.

        MLflow records no time for an alias or a tag, and cannot filter models by alias: the
        aliases cost one call per 1,000 registered models, the tag one per 1,000 versions that
        carry it; versions cost one call when nothing is new.
        """
        changes: list[RegistryChange] = []
        calls = [0]
        newest_first = self._pages(
            calls,
            self.client.search_model_versions,
            first=SWEEP_FIRST_PAGE,
            order_by=["creation_timestamp DESC"],
        )
        for mv in (mv for page in newest_first for mv in page):
            if int(mv.creation_timestamp) < since_ms:
                break  # stops paging: the rest is older still
            changes.append(
                RegistryChange(
                    "version_created", mv.name, str(mv.version), int(mv.creation_timestamp)
                )
            )
        key = promote_tag.replace("`", "")
        tagged = self._pages(
            calls, self.client.search_model_versions, filter_string=f"tags.`{key}` != ''"
        )
        changes += [
            RegistryChange("tag", mv.name, str(mv.version), value=mv.tags.get(promote_tag))
            for page in tagged
            for mv in page
        ]
        changes += [
            RegistryChange("alias", model.name, str(version), value=alias)
            for page in self._pages(calls, self.client.search_registered_models)
            for model in page
            for alias, version in _aliases(model)
            if alias in aliases
        ]
        return ChangeScan(changes, calls[0])

    @staticmethod
    def _pages(
        calls: list[int], search: Callable[..., Any], *, first: int = SWEEP_PAGE, **query: Any
    ) -> Iterator[Any]:
        """MLflow's paged search, page by page while the caller reads (``calls[0]`` counts
        the requests): stopping early makes no further call."""
        token, size = None, first
        while True:
            page = search(max_results=size, page_token=token, **query)
            calls[0] += 1
            yield page
            token, size = page.token, SWEEP_PAGE
            if not token:
                return

    def version_url(self, name: str, version: str) -> str | None:
        return with_workspace(
            f"{self.ui_url}/#/models/{quote(name, safe='')}/versions/{version}", self.workspace
        )

    @_in_workspace
    def run_url(self, run_id: str) -> str | None:
        return self._run_link(self.experiment_of(run_id), run_id)

    @_in_workspace
    def experiment_of(self, run_id: str) -> str:
        return str(self.client.get_run(run_id).info.experiment_id)

    def _run_link(self, experiment_id: str, run_id: str) -> str:
        return with_workspace(
            f"{self.ui_url}/#/experiments/{experiment_id}/runs/{run_id}", self.workspace
        )


def _aliases(model: Any) -> list[tuple[str, str]]:
    """A registered model's aliases as (alias, version): MLflow's client gives a list of
    RegisteredModelAlias, older servers' entities a mapping."""
    found = model.aliases or []
    if isinstance(found, dict):
        return [(str(a), str(v)) for a, v in found.items()]
    return [(str(a.alias), str(a.version)) for a in found]
