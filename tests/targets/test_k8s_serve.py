"""``labship export k8s --serve MODEL``: a Deployment and a Service for the model's serving
image, against the official schemas (strict, the oldest and newest Kubernetes that
kubernetes-validate ships), in the kustomization, and what the schemas cannot see.
The model's requirements are locked with uv (the index is used: slow)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from test_k8s import NEWEST, OLDEST, _kustomize_equivalent, _project

from conftest import MakeProject
from labship import api
from labship.console import Console
from labship.errors import ConfigError, UsageError
from labship.images.container import APP_UID
from labship.project import Project, load_project
from labship.targets import k8s

pytestmark = pytest.mark.slow


def _model(parent: Path, name: str = "iris") -> Path:
    folder = parent / name
    folder.mkdir(parents=True)
    (folder / "MLmodel").write_text(
        "flavors:\n  python_function: {python_version: 3.11.7, loader_module: x}\n"
    )
    (folder / "requirements.txt").write_text("six==1.16.0\n")
    return folder


def _export(project: Project, *models: Path, jobs: tuple[str, ...] = ()) -> str:
    err = io.StringIO()
    api.export(project, "k8s", console=Console(stream=err), jobs=list(jobs), serve=models)
    return err.getvalue()


def _load(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(path.read_text())
    return doc


@pytest.fixture
def served(make_project: MakeProject, tmp_path: Path) -> Project:
    project = _project(make_project)
    _export(project, _model(tmp_path / "models"))
    return project


@pytest.mark.parametrize("version", [OLDEST, NEWEST])
def test_the_deployment_and_service_pass_the_official_schemas(
    served: Project, version: str
) -> None:
    folder = served.root / k8s.DIR
    for name in ("deployment-demo-serve-iris.yaml", "service-demo-serve-iris.yaml"):
        assert kubernetes_validate.validate(_load(folder / name), version, strict=True), name


def test_the_deployment_probes_ping_runs_non_root_read_only_with_resources(
    served: Project,
) -> None:
    deployment = _load(served.root / k8s.DIR / "deployment-demo-serve-iris.yaml")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/ping", "port": "http"}
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == APP_UID
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert pod["volumes"] == [{"name": "tmp", "emptyDir": {}}]
    assert set(container["resources"]) == {"requests", "limits"}
    assert container["resources"]["limits"]["cpu"] == "2"  # the server's 2 workers
    # the selector picks the pod template, and the Service picks the same pods
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == labels
    service = _load(served.root / k8s.DIR / "service-demo-serve-iris.yaml")
    assert service["spec"]["selector"] == labels
    assert service["spec"]["ports"][0]["targetPort"] == "http"


def test_the_grace_period_covers_prestop_and_the_graceful_stop(served: Project) -> None:
    """The kubelet's SIGKILL comes after preStop's sleep and the server's own graceful
    timeout (the serving image's default, labship serve's too), not before."""
    from labship.serving import DEFAULT_TIMEOUTS
    from labship.serving.app import server

    pod = _load(served.root / k8s.DIR / "deployment-demo-serve-iris.yaml")["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    sleep = container["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep[0] == "sleep"
    graceful = server.arguments().parse_args(["--model", "m"]).graceful_timeout
    assert graceful == DEFAULT_TIMEOUTS["graceful_timeout"]
    assert pod["spec"]["terminationGracePeriodSeconds"] >= float(sleep[1]) + graceful + 1


def test_the_image_is_the_build_serve_tag_and_an_unpushed_one_is_said(
    make_project: MakeProject, tmp_path: Path
) -> None:
    from labship.images import serve as image
    from labship.serving.env import model_lock, server
    from labship.serving.model import read_model
    from labship.store import Store

    project = _project(make_project)
    folder = _model(tmp_path / "models")
    warnings = _export(project, folder)
    model = read_model(folder)
    tag = image.plan(model, model_lock(model, Store(), console=Console(quiet=True)), server()).tag
    pod = _load(project.root / k8s.DIR / "deployment-demo-serve-iris.yaml")["spec"]["template"]
    assert pod["spec"]["containers"][0]["image"] == tag
    assert tag.startswith("labship-serve/iris:")
    assert f"the serving image {tag} is not in a registry" in warnings


def test_the_kustomization_lists_them_beside_the_cronjobs_and_keeps_them(
    served: Project,
) -> None:
    folder = served.root / k8s.DIR
    kustomization = _load(folder / "kustomization.yaml")
    assert "deployment-demo-serve-iris.yaml" in kustomization["resources"]
    assert "service-demo-serve-iris.yaml" in kustomization["resources"]
    assert "cronjob-demo-train.yaml" in kustomization["resources"]
    kinds = {d["kind"] for d in _kustomize_equivalent(folder)}
    assert {"Deployment", "Service", "CronJob", "Secret"} <= kinds
    _export(served)  # a later export without --serve keeps serving the model
    kustomization = _load(folder / "kustomization.yaml")
    assert "deployment-demo-serve-iris.yaml" in kustomization["resources"]


def test_a_project_without_jobs_exports_the_serving_files_alone(
    make_project: MakeProject, tmp_path: Path
) -> None:
    root = make_project()
    config = root / "labship.toml"
    config.write_text(
        config.read_text().replace('[jobs.hello]\ncommand = "python code/hello.py"\n', "")
    )
    project = load_project(root)
    assert not project.settings.jobs
    _export(project, _model(tmp_path / "models"))
    names = sorted(p.name for p in (root / k8s.DIR).glob("*.yaml"))
    assert names == [
        "deployment-demo-serve-iris.yaml",
        "kustomization.yaml",
        "service-demo-serve-iris.yaml",
    ]
    for doc in _kustomize_equivalent(root / k8s.DIR):
        assert kubernetes_validate.validate(doc, NEWEST, strict=True)


def test_two_models_with_one_name_are_refused_and_other_targets_refuse_serve(
    make_project: MakeProject, tmp_path: Path
) -> None:
    project = _project(make_project)
    with pytest.raises(ConfigError, match="would both be the Deployment"):
        _export(project, _model(tmp_path / "a"), _model(tmp_path / "b"))
    with pytest.raises(UsageError, match="takes no --serve"):
        api.export(project, "compose", console=Console(quiet=True), serve=[tmp_path / "a" / "iris"])
