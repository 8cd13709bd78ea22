"""The example project's job, exported with ``export k8s``, runs as the cluster runs it.

The manifest says: user 10001, a read-only root, an emptyDir at /tmp and one at each of
the project's output folders. The test starts the real prod image with exactly that
(``docker run --read-only --user 10001`` and a tmpfs per emptyDir, owned as ``fsGroup``
makes it), the Secret's values and the manifest's variables, and the manifest's args.
It once failed with ``cannot write to models``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from conftest import labship
from dockerfixtures import LOCAL_BASE
from labship.tools.docker import docker


@pytest.mark.slow
@pytest.mark.docker
def test_the_example_job_runs_under_the_manifests_read_only_root(tmp_path: Path) -> None:
    env = {"LABSHIP_BASE_IMAGE": os.environ.get("LABSHIP_BASE_IMAGE", LOCAL_BASE)}
    labship("new", "readonly", "--python", "3.11", cwd=tmp_path, check=True)
    root = tmp_path / "readonly"
    labship("build", "prod", cwd=root, env=env, check=True)
    labship("export", "k8s", "train", cwd=root, env=env, check=True)
    manifest = yaml.safe_load((root / "deploy" / "k8s" / "job-readonly-train.yaml").read_text())
    pod = manifest["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    uid, group = pod["securityContext"]["runAsUser"], pod["securityContext"]["fsGroup"]
    empty = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    mounts = [m for m in container["volumeMounts"] if m["name"] in empty]
    assert {m["mountPath"] for m in mounts} >= {"/tmp", "/app/models"}

    args = ["run", "--rm", "--read-only", "--user", f"{uid}:{uid}", "--group-add", str(group)]
    args += ["--security-opt", "no-new-privileges", "--cap-drop", "ALL"]
    for mount in mounts:  # an emptyDir: empty, writable by the pod's fsGroup
        args += ["--tmpfs", f"{mount['mountPath']}:rw,mode=1777"]
    args += ["--env-file", str(root / "deploy" / "k8s" / "prod.env")]
    for variable in container.get("env", []):
        args += ["--env", f"{variable['name']}={variable['value']}"]
    args += [container["image"], *container["args"]]
    run = docker(args, console=None, check=False)

    assert run.returncode == 0, run.stderr
    assert "cannot write" not in run.stderr
    assert '"accuracy"' in run.stdout
