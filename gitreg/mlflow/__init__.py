"""gitreg as an MLflow model-registry store (the ``mlflow`` extra).

``mlflow.set_registry_uri("gitreg:///path/to/registry")`` (or ``MlflowClient(registry_uri=…)``,
or ``mlflow server --registry-store-uri gitreg:///…``) reaches ``GitregStore`` through the
``mlflow.model_registry_store`` entry point. ``store`` holds the store, ``mapping`` the
translation of URIs, errors and entities, ``importer`` the migration from MLflow. The names
below load on first use, so ``require`` can say what is missing before MLflow is imported.
"""

from typing import Any

from gitreg.errors import UsageError

_LAZY = {
    "GitregStore": "gitreg.mlflow.store",
    "SCHEME": "gitreg.mlflow.mapping",
    "mlflow_errors": "gitreg.mlflow.mapping",
    "registry_path": "gitreg.mlflow.mapping",
    "version_entity": "gitreg.mlflow.mapping",
}


def require(what: str) -> None:
    """UsageError naming the extra when MLflow is not installed."""
    try:
        import mlflow  # noqa: F401, PLC0415 (the check itself)
    except ImportError:
        raise UsageError(f"{what} needs MLflow: pip install 'gitreg-ml[mlflow]'") from None


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib  # noqa: PLC0415 (MLflow loads only when the plugin is used)

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gitreg.mlflow' has no attribute {name!r}")


__all__ = ["SCHEME", "GitregStore", "mlflow_errors", "registry_path", "require", "version_entity"]
