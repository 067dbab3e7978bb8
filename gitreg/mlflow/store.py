"""MLflow's model-registry store API over a gitreg registry (the ``mlflow`` extra).

``mlflow.set_registry_uri("gitreg:///path/to/registry")`` (or ``MlflowClient(registry_uri=…)``,
or ``mlflow server --registry-store-uri gitreg:///…``) reaches ``GitregStore`` through the
``mlflow.model_registry_store`` entry point. Every write is one commit, made by ``Registry``;
the parts only translate: MLflow's arguments in, MLflow's entities and error codes out,
with the messages MLflow's own SQL store uses. The parts, by noun: ``models`` (registered
models, tags, aliases), ``versions``, ``hooks`` (webhooks); ``base`` holds what they share.
What differs from MLflow's SQL store, on purpose:

* A transition that gitreg.yaml sends through a pull request never touches the default
  branch: the store prepares the branch and pull request exactly as ``gitreg transition``
  does, then answers INVALID_PARAMETER_VALUE naming the branch or link (the version keeps
  its stage until the pull request is merged; failing gates are refused the same way).
* Writes are local commits; ``gitreg:///path?push=true`` or ``GITREG_PUSH=1`` pushes each
  one to ``origin`` (gitreg's race-safe push).
* Deleting a Production version (or a model holding one) is refused the same way.
* The download URI of a version is a fresh verified copy of its bytes (through gitreg's
  cache), never the registered location: MLflow writes into what it loads.
"""

from __future__ import annotations

from gitreg.mlflow.hooks import WebhookMethods
from gitreg.mlflow.models import ModelMethods
from gitreg.mlflow.versions import VersionMethods


class GitregStore(ModelMethods, VersionMethods, WebhookMethods):
    """MLflow's ``AbstractStore`` over the gitreg registry the store URI names."""
