"""gitreg as an MLflow model-registry store (the ``mlflow`` extra).

``mlflow.set_registry_uri("gitreg:///path/to/registry")`` (or ``MlflowClient(registry_uri=…)``,
or ``mlflow server --registry-store-uri gitreg:///…``) reaches ``GitregStore`` through the
``mlflow.model_registry_store`` entry point. ``store`` holds the store, ``mapping`` the
translation of URIs, errors and entities.
"""

from gitreg.mlflow.mapping import SCHEME, mlflow_errors, registry_path, version_entity
from gitreg.mlflow.store import GitregStore

__all__ = ["SCHEME", "GitregStore", "mlflow_errors", "registry_path", "version_entity"]
