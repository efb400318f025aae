"""Registry adapter for an open-source MLflow 3 tracking server."""

from __future__ import annotations

import time
from typing import Any

from shared.ports import ModelVersion
from shared.reports import replace_section


class RegistryError(RuntimeError):
    pass


class MlflowRegistry:
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

    def get_version(self, name: str, version: str) -> ModelVersion:
        mv = self.client.get_model_version(name, str(version))
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
        """Poll until the version is READY; a failed registration or a timeout raises."""
        deadline = time.monotonic() + timeout
        delay = 0.1
        while True:
            mv = self.get_version(name, version)
            if mv.status == "READY":
                return mv
            if mv.status == "FAILED_REGISTRATION":
                raise RegistryError(f"{name} v{version}: registration failed")
            if time.monotonic() > deadline:
                raise RegistryError(f"{name} v{version}: still {mv.status} after {timeout} s")
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def load_model(self, name: str, version: str) -> Any:
        import mlflow.pyfunc

        return mlflow.pyfunc.load_model(f"models:/{name}/{version}")

    def write_report(self, name: str, version: str, section: str, markdown: str) -> None:
        current = self.get_version(name, version).description
        updated = replace_section(current, section, markdown)
        if updated != current:
            self.client.update_model_version(name, str(version), description=updated)

    def set_tags(self, name: str, version: str, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_model_version_tag(name, str(version), key, str(value))

    def get_alias(self, name: str, alias: str) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            return str(self.client.get_model_version_by_alias(name, alias).version)
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return None
            raise

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self.client.set_registered_model_alias(name, alias, str(version))

    def version_url(self, name: str, version: str) -> str | None:
        return f"{self.ui_url}/#/models/{name}/versions/{version}"
