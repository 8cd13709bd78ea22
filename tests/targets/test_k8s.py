"""The Kubernetes target: every manifest against the official schemas (kubernetes-validate,
strict, the oldest and newest Kubernetes it ships), the kustomization through the real
``kubectl kustomize`` where kubectl is installed (else a kustomize-equivalent renderer
written here, which says so), and what the schemas cannot see."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import all_versions

from conftest import MakeProject, labship
from labship import api, pushes
from labship.console import Console
from labship.errors import ConfigError, ConflictError, ProfileError, UsageError
from labship.images.container import APP_UID
from labship.profiles.envfile import parse_env_file
from labship.project import Job, Project, load_project
from labship.targets import k8s
from labship.targets.k8scron import k8s_schedule

SECRET = "prod-secret-value-456"
DIGEST = "sha256:" + "ab" * 32
_VERSIONS = sorted(set(all_versions()), key=lambda v: tuple(int(p) for p in v.split(".")))
OLDEST, NEWEST = _VERSIONS[0], _VERSIONS[-1]
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
JOBS = """\
[jobs.train]
command = ["python", "code/train.py", "--say", "it's \\"quoted\\": yes"]
schedule = "30 6 * * 1-7"
timezone = "Asia/Kolkata"
timeout = "2h"
cpu = "500m"
memory = "512Mi"

[jobs.report]
command = "python code/report.py"
schedule = "@daily"
profile = "batch"
writable = true
cpu = 2

[jobs.adhoc]
command = "python code/adhoc.py"
"""


def _project(make_project: MakeProject, *, pushed: bool = True, jobs: str = JOBS) -> Project:
    root = make_project(jobs={}, extra_toml="")
    config = root / "labship.toml"
    text = config.read_text()
    config.write_text(re.sub(r"\[jobs\.hello\]\ncommand = [^\n]*\n", lambda _: jobs, text))
    (root / ".env_batch").write_text("GREETING=batch\nDB_PASSWORD=batch-secret-789\n")
    project = load_project(root)
    if pushed:
        record = pushes.PushRecord(
            "registry.example/team/demo", DIGEST, ("0.1.0",), None, "f" * 64, "2026-11-29T01:00:00Z"
        )
        pushes.append(project.state_dir, record)
    return project


def _export(project: Project, *jobs: str) -> tuple[list[Path], str]:
    err = io.StringIO()
    paths = api.export(project, "k8s", console=Console(stream=err), jobs=list(jobs))
    return paths, err.getvalue()


def _manifests(folder: Path) -> dict[str, dict[str, Any]]:
    """file name -> the manifest in it (one document each)."""
    out = {}
    for path in sorted(folder.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            out[path.name] = yaml.safe_load(path.read_text())
    return out


def _pod(manifest: dict[str, Any]) -> dict[str, Any]:
    spec = manifest["spec"]
    job_spec = spec["jobTemplate"]["spec"] if manifest["kind"] == "CronJob" else spec
    pod: dict[str, Any] = job_spec["template"]["spec"]
    return pod


@pytest.fixture
def exported(make_project: MakeProject) -> Path:
    project = _project(make_project)
    _export(project)
    return project.root / k8s.DIR


# ----------------------------------------------------------------- the schemas


def test_the_versions_span_what_kubernetes_validate_ships() -> None:
    assert tuple(int(p) for p in OLDEST.split(".")) <= (1, 25, 0)  # before timeZone was GA
    assert tuple(int(p) for p in NEWEST.split(".")) >= (1, 37, 0)


@pytest.mark.parametrize("version", [OLDEST, NEWEST])
def test_every_manifest_passes_the_official_schemas_in_strict_mode(
    exported: Path, version: str
) -> None:
    manifests = _manifests(exported)
    assert set(manifests) == {
        "cronjob-demo-train.yaml",
        "cronjob-demo-report.yaml",
        "job-demo-train.yaml",
        "job-demo-report.yaml",
        "job-demo-adhoc.yaml",
    }
    for name, manifest in manifests.items():
        assert kubernetes_validate.validate(manifest, version, strict=True), name


@pytest.mark.parametrize("version", [OLDEST, NEWEST])
def test_strict_mode_would_catch_a_field_the_schema_does_not_know(
    exported: Path, version: str
) -> None:
    manifest = _manifests(exported)["cronjob-demo-train.yaml"]
    _pod(manifest)["containers"][0]["securityContext"]["readOnlyRootFilesytem"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(manifest, version, strict=True)


# ------------------------------------------------------------- what they hold


def test_the_cronjob_says_what_labship_schedule_does(exported: Path) -> None:
    cronjob = _manifests(exported)["cronjob-demo-train.yaml"]
    spec = cronjob["spec"]
    assert spec["schedule"] == "30 6 * * 0-6"  # Debian's 1-7 is every day; 7 is out of range there
    assert spec["timeZone"] == "Asia/Kolkata"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] == k8s.STARTING_DEADLINE
    job_spec = spec["jobTemplate"]["spec"]
    assert job_spec["activeDeadlineSeconds"] == 7200
    assert job_spec["backoffLimit"] == 0
    assert job_spec["ttlSecondsAfterFinished"] > 0
    assert spec["successfulJobsHistoryLimit"] == spec["failedJobsHistoryLimit"] == 3
    container = _pod(cronjob)["containers"][0]
    assert container["args"] == ["python", "code/train.py", "--say", 'it\'s "quoted": yes']
    assert container["image"] == f"registry.example/team/demo@{DIGEST}"
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "512Mi"},
        "limits": {"cpu": "500m", "memory": "512Mi"},
    }
    assert container["envFrom"] == [{"secretRef": {"name": "demo-prod"}}]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {"LABSHIP_PROFILE": "prod", "LABSHIP_JOB": "train", "LABSHIP_RUNTIME": "k8s"}


def test_a_job_without_a_zone_or_timeout_leaves_them_out(exported: Path) -> None:
    report = _manifests(exported)["cronjob-demo-report.yaml"]
    assert "timeZone" not in report["spec"]
    assert report["spec"]["schedule"] == "0 0 * * *"
    assert "activeDeadlineSeconds" not in report["spec"]["jobTemplate"]["spec"]
    container = _pod(report)["containers"][0]
    assert container["resources"] == {"requests": {"cpu": "2"}, "limits": {"cpu": "2"}}
    assert container["envFrom"] == [{"secretRef": {"name": "demo-batch"}}]
    assert "resources" not in _pod(_manifests(exported)["job-demo-adhoc.yaml"])["containers"][0]


def test_every_pod_runs_non_root_with_a_read_only_root_unless_the_job_is_writable(
    exported: Path,
) -> None:
    for name, manifest in _manifests(exported).items():
        pod = _pod(manifest)
        assert pod["restartPolicy"] == "Never"
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == APP_UID
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        container = pod["containers"][0]
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert security["readOnlyRootFilesystem"] is ("report" not in name), name
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
        assert {"name": "tmp", "emptyDir": {}} in pod["volumes"]


def test_labels_are_the_same_on_the_cronjob_its_jobs_and_their_pods(exported: Path) -> None:
    for name, manifest in _manifests(exported).items():
        labels = manifest["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "labship"
        if manifest["kind"] == "CronJob":
            template = manifest["spec"]["jobTemplate"]
            assert template["metadata"]["labels"] == labels, name
            pod_labels = template["spec"]["template"]["metadata"]["labels"]
        else:
            assert manifest["metadata"]["generateName"].startswith(labels[_COMPONENT])
            pod_labels = manifest["spec"]["template"]["metadata"]["labels"]
        assert pod_labels == labels, name
        assert "selector" not in manifest["spec"]  # the Job controller makes its own


_COMPONENT = "app.kubernetes.io/component"


def test_one_job_alone_and_an_unknown_one(make_project: MakeProject) -> None:
    project = _project(make_project)
    paths, _ = _export(project, "adhoc")
    assert sorted(p.name for p in paths) == [
        ".gitignore",
        "job-demo-adhoc.yaml",
        "kustomization.yaml",
        "prod.env",
    ]
    kustomization = yaml.safe_load((project.root / k8s.DIR / "kustomization.yaml").read_text())
    assert kustomization["resources"] == []  # the Secret alone, for the Job run by hand
    assert [g["name"] for g in kustomization["secretGenerator"]] == ["demo-prod"]
    with pytest.raises(UsageError) as info:
        _export(project, "trian")
    assert info.value.exit_code == 64 and "train" in str(info.value)


def test_without_a_push_the_prod_tag_is_used_and_said(make_project: MakeProject) -> None:
    project = _project(make_project, pushed=False)
    _, said = _export(project)
    cronjob = _manifests(project.root / k8s.DIR)["cronjob-demo-train.yaml"]
    assert _pod(cronjob)["containers"][0]["image"] == "demo:0.1.0"
    assert "labship: warning: no push recorded: the manifests run demo:0.1.0" in said
    assert "labship push" in said


# ------------------------------------------------------------------- names


def test_long_and_odd_job_names_become_distinct_dns_labels(make_project: MakeProject) -> None:
    long = "train_" + "x" * 80
    jobs = f'[jobs.{long}]\ncommand = "true"\nschedule = "@hourly"\n\n'
    jobs += '[jobs."Train Me"]\ncommand = "true"\n'
    project = _project(make_project, jobs=jobs)
    _export(project)
    metadata = [m["metadata"] for m in _manifests(project.root / k8s.DIR).values()]
    names = {m.get("name") or m["generateName"].removesuffix("-") for m in metadata}
    assert len(names) == 2, names
    for name in names:
        assert _DNS_LABEL.fullmatch(name) and len(name) <= k8s.NAME_LIMIT == 52, name
    assert k8s.dns_label("demo-" + long) in names  # stable: the same name every export
    assert k8s.dns_label("demo-train") == "demo-train"


def test_two_jobs_with_one_kubernetes_name_are_refused(make_project: MakeProject) -> None:
    # 'X' becomes demo-x-<hash>; a job literally named x-<hash> would be the same name.
    twin = k8s.dns_label("demo-X").removeprefix("demo-")
    jobs = f'[jobs.X]\ncommand = "true"\n\n[jobs.{twin}]\ncommand = "true"\n'
    with pytest.raises(ConfigError) as info:
        _export(_project(make_project, jobs=jobs))
    assert f"'X' and '{twin}'" in str(info.value) and info.value.exit_code == 78


@pytest.mark.parametrize(
    ("project", "profile", "name"),
    [
        ("churn", "prod", "churn-prod"),
        ("churn_v2", "Night_Batch", "churn-v2-night-batch"),
        ("churn.v2", "prod", "churn.v2-prod"),
    ],
)
def test_secret_names_are_project_dash_profile(project: str, profile: str, name: str) -> None:
    assert k8s.secret_name(project, profile) == name


def test_a_secret_name_kubernetes_cannot_take_is_refused() -> None:
    with pytest.raises(ConfigError) as info:
        k8s.secret_name("churn.", "prod")
    assert "not DNS-1123" in str(info.value)


# -------------------------------------------------- what the schemas cannot see


def _job(schedule: str, timezone: str = "") -> Job:
    return Job("train", ("true",), schedule=schedule, timezone=timezone)


@pytest.mark.parametrize("schedule", ["CRON_TZ=UTC 0 5 * * *", "TZ=Europe/Berlin 0 5 * * *"])
def test_a_zone_inside_the_schedule_is_refused(make_project: MakeProject, schedule: str) -> None:
    project = _project(make_project)
    with pytest.raises(ConfigError) as info:
        k8s_schedule(project, _job(schedule))
    assert "a zone inside the schedule is refused by Kubernetes" in str(info.value)
    assert 'timezone = "Europe/Berlin"' in info.value.hint


@pytest.mark.parametrize(
    ("zone", "why"),
    [
        ("Mars/Olympus", "is not a time zone"),
        ("../etc/passwd", "is not a time zone"),
        ("UTC+2", "is not a time zone"),
        ("Local", "names no zone a cluster knows"),
        ("localtime", "names no zone a cluster knows"),
    ],
)
def test_a_zone_that_is_not_iana_is_refused(make_project: MakeProject, zone: str, why: str) -> None:
    project = _project(make_project)
    with pytest.raises(ConfigError) as info:
        k8s_schedule(project, _job("0 5 * * *", zone))
    assert why in str(info.value) and "[jobs.train] timezone" in str(info.value)


@pytest.mark.parametrize(
    ("schedule", "written"),
    [
        ("*/15 8-18 * * mon-fri", "*/15 8-18 * * mon-fri"),
        ("0 5 * * 7", "0 5 * * 0"),
        ("0 5 * * 5-7", "0 5 * * 0,5,6"),
        ("0 5 */2 * *", "0 5 */2 * *"),  # the weekday field is a plain * for both
        ("0 5 1,15 * mon", "0 5 1,15 * mon"),  # both OR the days
        ("@weekly", "0 0 * * 0"),
    ],
)
def test_schedules_are_written_for_the_controllers_cron(
    make_project: MakeProject, schedule: str, written: str
) -> None:
    assert k8s_schedule(_project(make_project), _job(schedule)) == written


def test_a_schedule_whose_days_kubernetes_reads_otherwise_is_refused(
    make_project: MakeProject,
) -> None:
    # Debian's cron: odd days that are Mondays ('*/2' starts with '*': AND);
    # robfig/cron: odd days or Mondays ('*/2' is not a plain '*': OR).
    with pytest.raises(ConfigError) as info:
        k8s_schedule(_project(make_project), _job("0 5 */2 * mon"))
    assert "Kubernetes would run it on other days than cron" in str(info.value)


def test_hostile_names_and_arguments_stay_data(make_project: MakeProject) -> None:
    argv = ["python", "-c", "print(1)\n#: x", "a: b", "${HOME}", "\u2028", "'\"", "- [x]"]
    command = "[" + ", ".join(json.dumps(a) for a in argv) + "]"
    name = 'x"\n  evil: true #'
    jobs = f'[jobs.{json.dumps(name)}]\ncommand = {command}\nschedule = "@daily"\n'
    project = _project(make_project, jobs=jobs)
    _export(project)
    manifests = _manifests(project.root / k8s.DIR)
    assert len(manifests) == 2
    for manifest in manifests.values():
        assert kubernetes_validate.validate(manifest, NEWEST, strict=True)
        container = _pod(manifest)["containers"][0]
        assert container["args"] == argv
        assert {"name": "LABSHIP_JOB", "value": name} in container["env"]
        assert manifest["metadata"]["annotations"] == {"labship.org/job": name}


# --------------------------------------------------- the Secret and kustomize

TRICKY = """\
# a comment
export GREETING="hello # not a comment"
DB_PASSWORD='p@ss $word \\ x'  # a comment
SPACED="  two leading, one trailing "
EQUALS=a=b=c
HASH=a#b
EMPTY=
"""


def _kustomize(folder: Path, how: str) -> list[dict[str, Any]]:
    """The real ``kubectl kustomize`` (skipped where kubectl is not installed: Debian and
    PyPI do not ship it), or the equivalent below, which the first checks."""
    if how == "equivalent":
        return _kustomize_equivalent(folder)
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed; the kustomize-equivalent renderer ran instead")
    out = subprocess.run(
        [kubectl, "kustomize", str(folder)], capture_output=True, text=True, check=True
    )
    return list(yaml.safe_load_all(out.stdout))


def _kustomize_equivalent(folder: Path) -> list[dict[str, Any]]:
    """What kustomize v5 does with this kustomization: resources as they are, and each
    secretGenerator's env file read as kustomize reads it (api/kv: a BOM on the first
    line dropped, leading blanks stripped, '#' lines skipped, split at the first '=')."""
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    docs = [yaml.safe_load((folder / name).read_text()) for name in kustomization["resources"]]
    for generator in kustomization.get("secretGenerator", []):
        data = {}
        for env_file in generator["envs"]:
            text = (folder / env_file).read_text(encoding="utf-8").removeprefix("\ufeff")
            for line in text.split("\n"):
                line = line.removesuffix("\r").lstrip()
                if line and not line.startswith("#"):
                    key, _, value = line.partition("=")
                    data[key] = base64.b64encode(value.encode()).decode()
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": generator["name"]},
                "type": "Opaque",
                "data": data,
            }
        )
    return docs


def _secrets(docs: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    return {
        d["metadata"]["name"]: {k: base64.b64decode(v).decode() for k, v in d["data"].items()}
        for d in docs
        if d["kind"] == "Secret"
    }


@pytest.mark.parametrize("how", ["kubectl", "equivalent"])
def test_kustomize_makes_each_profiles_secret_with_the_values_labship_reads(
    make_project: MakeProject, how: str
) -> None:
    project = _project(make_project)
    (project.root / ".env_prod").write_text(TRICKY)
    _export(project)
    docs = _kustomize(project.root / k8s.DIR, how)
    secrets = _secrets(docs)
    assert set(secrets) == {"demo-prod", "demo-batch"}
    assert secrets["demo-prod"] == parse_env_file(project.root / ".env_prod")
    assert secrets["demo-prod"]["SPACED"] == "  two leading, one trailing "
    assert secrets["demo-batch"] == {"GREETING": "batch", "DB_PASSWORD": "batch-secret-789"}
    cronjobs = [d for d in docs if d["kind"] == "CronJob"]
    assert {d["metadata"]["name"] for d in cronjobs} == {"demo-train", "demo-report"}
    for cronjob in cronjobs:
        (ref,) = _pod(cronjob)["containers"][0]["envFrom"]
        assert ref["secretRef"]["name"] in secrets
    for doc in docs:  # the Secrets too
        for version in (OLDEST, NEWEST):
            assert kubernetes_validate.validate(doc, version, strict=True)


def test_the_equivalent_renders_what_kubectl_kustomize_renders(make_project: MakeProject) -> None:
    project = _project(make_project)
    (project.root / ".env_prod").write_text("\ufeff" + TRICKY + "  # indented\r\nCR=x\r\n")
    _export(project)
    folder = project.root / k8s.DIR
    real = _kustomize(folder, "kubectl")

    def key(doc: dict[str, Any]) -> str:
        return f"{doc['kind']}/{doc['metadata']['name']}"

    assert sorted(real, key=key) == sorted(_kustomize_equivalent(folder), key=key)


def test_the_env_files_hold_the_values_and_are_git_ignored_and_private(
    make_project: MakeProject,
) -> None:
    project = _project(make_project)
    _export(project)
    folder = project.root / k8s.DIR
    git = shutil.which("git")
    assert git is not None
    subprocess.run([git, "init", "-q", str(project.root)], check=True)
    ignored = subprocess.run(
        [
            git,
            "-C",
            str(project.root),
            "check-ignore",
            "--no-index",
            "deploy/k8s/prod.env",
            "deploy/k8s/batch.env",
        ],
        capture_output=True,
        text=True,
    )
    assert ignored.stdout.split() == ["deploy/k8s/prod.env", "deploy/k8s/batch.env"]
    for path in folder.iterdir():
        holds = SECRET in path.read_text()
        assert holds == (path.name == "prod.env"), path.name
        if path.suffix == ".env":
            assert path.stat().st_mode & 0o077 == 0, path.name


def test_a_value_kustomize_cannot_hold_is_refused_without_showing_it(
    make_project: MakeProject,
) -> None:
    project = _project(make_project)
    (project.root / ".env_prod").write_text(f'GREETING=hi\nDB_PASSWORD="{SECRET}\\nline two"\n')
    with pytest.raises(ProfileError) as info:
        _export(project)
    assert "DB_PASSWORD holds a line break" in str(info.value)
    assert SECRET not in str(info.value) and info.value.exit_code == 65
    assert not (project.root / k8s.DIR).exists()  # nothing half-written


def test_a_missing_profile_is_said_and_the_rest_is_written(make_project: MakeProject) -> None:
    project = _project(make_project)
    (project.root / ".env_batch").unlink()
    paths, said = _export(project)
    assert "no .env_batch: kustomize needs deploy/k8s/batch.env for the Secret demo-batch" in said
    assert {p.name for p in paths} >= {"prod.env", "cronjob-demo-report.yaml"}
    assert "batch.env" not in {p.name for p in paths}


# ------------------------------------------------------------ ownership, CLI


def test_a_hand_edit_is_refused_and_eject_hands_the_files_over(make_project: MakeProject) -> None:
    project = _project(make_project)
    _export(project)
    manifest = project.root / k8s.DIR / "cronjob-demo-train.yaml"
    manifest.write_text(manifest.read_text().replace("Forbid", "Allow"))
    with pytest.raises(ConflictError) as info:
        _export(project)
    assert info.value.exit_code == 73 and "labship eject k8s" in info.value.hint
    api.eject(project, "k8s")
    assert not manifest.read_text().startswith("# Generated by labship")
    assert "Allow" in manifest.read_text()


def test_the_cli_exports_and_says_each_file(make_project: MakeProject) -> None:
    project = _project(make_project)
    proc = labship("export", "k8s", "train", cwd=project.root)
    assert proc.returncode == 0, proc.stderr
    assert "labship: wrote cronjob-demo-train.yaml" in proc.stderr
    assert SECRET not in proc.stderr + proc.stdout
    proc = labship("export", "k8s", "nope", cwd=project.root)
    assert proc.returncode == 64
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_the_grace_period_is_the_jobs_stop_timeout(make_project: MakeProject) -> None:
    """The same stop_timeout as `labship run` and the cron wrapper: 30 s to checkpoint."""
    jobs = '[jobs.train]\ncommand = "python code/hello.py"\nstop_timeout = 30\n'
    paths, _ = _export(_project(make_project, jobs=jobs))
    manifests = _manifests(paths[0].parent)
    specs = [m["spec"] for name, m in manifests.items() if name.startswith("job-")]
    assert specs and all(
        s["template"]["spec"]["terminationGracePeriodSeconds"] == 30 for s in specs
    )
