"""The Kubernetes target: ``labship export k8s [JOB...]`` writes ``deploy/k8s/``.

For each job: ``job-<name>.yaml``, a Job to run it once (``kubectl create -f``, a
generated name each time); for each scheduled job also ``cronjob-<name>.yaml``; and
``kustomization.yaml`` over the CronJobs and the Secrets they read
(``kubectl apply -k deploy/k8s``). The CronJob says what ``labship schedule`` does under
cron: the same schedule and time zone, no overlap (``Forbid``, as cron's flock), the
job's timeout (``activeDeadlineSeconds``, then the same grace), its profile, no retry.

Decisions:

- **Secrets**: one Secret per profile, ``<project>-<profile>`` (``secret_name``: the name
  the Airflow target references too), read with ``envFrom``. Its values come from a
  kustomize ``secretGenerator`` over ``deploy/k8s/<profile>.env``, which labship writes
  from ``.env_<profile>`` (mode 0600, git-ignored by the generated ``.gitignore``). It is
  not ``.env_<profile>`` itself: kustomize reads ``KEY=value`` lines verbatim (no quotes,
  no ``export``, no inline comments, no multi-line values), which labship's grammar
  (``labship.profiles.envfile``) reads differently, so labship writes the values it
  parsed, one a line, and refuses a value kustomize cannot hold (a line break).
  ``disableNameSuffixHash`` keeps the name others reference.
- **Read-only root**: always ``readOnlyRootFilesystem: true`` with an emptyDir at
  ``/tmp``, unless the job says ``writable = true`` in labship.toml (it writes elsewhere,
  e.g. ``models/`` under ``/app``).
- **timeZone**: written only when the job has a ``timezone``; without one the schedule is
  in kube-controller-manager's zone (cron: the machine's). The field is in the schemas
  from 1.25 on (beta, on by default, in 1.25 and 1.26; GA in 1.27), and tests validate
  against 1.25 and the newest.
- **Schedule**: Kubernetes reads cron with robfig/cron, not Debian's cron: weekday 7 is
  out of range there (written as 0 here), and the two day fields are ANDed when either
  has a plain ``*`` element, not when either *starts* with ``*``. labship writes the
  expression so both read the same days, and refuses one they cannot (``*/2`` day of
  month with named weekdays).
- **Image**: the last push by digest (``labship.pushes``), else the prod tag with a note.
- **Serving** (``--serve MODEL``, the switch ``serve=<folder>``): a Deployment and a
  Service for the model's serving image (``labship build serve``; by its registry digest
  when it was pushed, else its local tag with a note), probes on ``/ping`` (a startup
  probe while the model loads, then readiness and liveness), requests and limits (the
  limit's CPUs are the server's workers), non-root, read-only root with an emptyDir at
  ``/tmp``. A model's files stay in the kustomization on a later export without
  ``--serve``; delete them to stop serving it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labship.errors import ConfigError, ProfileError
from labship.generated import Header, Planned, with_header
from labship.targets.base import Context, distinct_names, selected_jobs

if TYPE_CHECKING:
    from labship.project import Job, Project

DIR = Path("deploy") / "k8s"
NAME_LIMIT = 52  # a CronJob's name: 63 less the 11 characters of its Jobs' suffix
BACKOFF_LIMIT = 0  # cron and Airflow (retries=0) do not retry a failed run either
STARTING_DEADLINE = 300  # a run that cannot start within 5 minutes is skipped, as cron skips it
HISTORY = 3
SERVE = "serve="  # the switch that names a model folder to serve (api.export's serve=)
REPLICAS = 1
SERVICE_PORT = 80
# The serving pod's stop: preStop sleeps while the endpoint is taken out of the Service
# (requests still arrive meanwhile), then SIGTERM: the server stops accepting, answers
# /ping 503, finishes what it has read within its graceful timeout and exits 0; the grace
# period covers both, with a margin before the kubelet's SIGKILL.
PRESTOP_SECONDS = 5
STARTUP_SECONDS = 120  # the startup probe's patience while the model loads
# Requests and limits of the serving container: the limit's 2 CPUs are 2 workers.
SERVE_RESOURCES = {"cpu_request": "500m", "cpu_limit": "2", "memory": "1Gi"}
TTL = 7 * 86400
HEADER = Header(
    sources="labship.toml",
    command="labship export k8s",
    takeover="run 'labship eject k8s' to take it over (labship then leaves it alone)",
)
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_NOT_YAML_PRINTABLE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]")


def secret_name(project: str, profile: str) -> str:
    """``<project>-<profile>``, lowercase, ``_`` as ``-``: the profile's Secret."""
    name = re.sub(r"[^a-z0-9.-]", "-", f"{project}-{profile}".lower())
    if not _SUBDOMAIN.fullmatch(name):
        raise ConfigError(
            f"project {project!r} and profile {profile!r} make no Kubernetes Secret name "
            f"({name!r} is not DNS-1123)",
            hint="rename the project or the profile (letters, digits, '-')",
        )
    return name


def dns_label(text: str, limit: int = NAME_LIMIT) -> str:
    """``text`` as a DNS-1123 label of at most ``limit`` characters; a name that had to
    change gets 6 hex digits of the original, so two names do not become one."""
    clean = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if clean == text and len(clean) <= limit:
        return clean
    digest = hashlib.sha256(text.encode()).hexdigest()[:6]
    return f"{clean[: limit - 7].rstrip('-')}-{digest}".lstrip("-")


def _yaml(value: object) -> str:
    """A YAML double-quoted scalar (JSON's, with what YAML reads as a break escaped)."""
    text = json.dumps(str(value), ensure_ascii=False)
    return _NOT_YAML_PRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _yaml_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(_yaml(v) for v in values) + "]"


@dataclass(frozen=True)
class _Names:
    """What one job is called in the cluster."""

    job: Job
    name: str
    labels: dict[str, str]


def _names(project: Project, jobs: list[Job]) -> list[_Names]:
    """Each job's resource name and labels; two jobs with one name are refused."""

    def name_of(job_name: str) -> str:
        return dns_label(f"{project.name}-{job_name}")

    allowed = "lowercase letters, digits, '-'"
    out = []
    for name, job in distinct_names(project, jobs, name_of, "Kubernetes name", allowed):
        labels = {
            "app.kubernetes.io/name": dns_label(project.name, 63),
            "app.kubernetes.io/component": name,
            "app.kubernetes.io/managed-by": "labship",
        }
        out.append(_Names(job, name, labels))
    return out


class K8sTarget:
    """deploy/k8s/: CronJobs, Jobs, the kustomization and the Secrets' env files."""

    name = "k8s"
    accepts = frozenset({"jobs", "serve"})

    def __init__(self) -> None:
        self.notes: list[str] = []

    def plan(self, context: Context) -> list[Planned]:
        project = context.project
        models = [Path(o.partition("=")[2]) for o in sorted(context.options) if o.startswith(SERVE)]
        serving_only = bool(models) and not context.jobs and not project.settings.jobs
        jobs = [] if serving_only else selected_jobs(context)
        files: list[Planned] = []
        resources = []
        if jobs:
            common = _common(project, self._image(project))
            for named in _names(project, jobs):
                files.append(_manifest(project, "job", named, common))
                if named.job.schedule:
                    files.append(_manifest(project, "cronjob", named, common))
                    resources.append(files[-1].path.name)
        served = [f for model in _distinct(project, models) for f in self._serving(project, model)]
        files += served
        resources += _serving_resources(project, [f.path.name for f in served])
        profiles = sorted({job.profile for job in jobs})  # run-once Jobs read them too
        files += self._secrets(project, profiles, resources)
        return files

    def _serving(self, project: Project, folder: Path) -> list[Planned]:
        """The Deployment and the Service serving one model folder."""
        from labship.console import Console
        from labship.images import serve as image
        from labship.images.container import APP_UID
        from labship.serving.env import model_lock, server
        from labship.serving.model import read_model
        from labship.store import Store
        from labship.templates import environment

        model = read_model(folder)
        planned = image.plan(
            model, model_lock(model, Store(), console=Console(quiet=True)), server()
        )
        name = serve_name(project, model.path)
        labels = {
            "app.kubernetes.io/name": dns_label(project.name, 63),
            "app.kubernetes.io/component": name,
            "app.kubernetes.io/managed-by": "labship",
        }
        env = environment().overlay()
        env.filters.update(yaml=_yaml)
        values = {
            "name": name,
            "model": model.path.name,
            "labels": labels,
            "image": self._serve_image(planned.tag, model.path),
            "uid": APP_UID,
            "port": image.PORT,
            "service_port": SERVICE_PORT,
            "replicas": REPLICAS,
            "grace": serve_grace(),
            "prestop_seconds": PRESTOP_SECONDS,
            "graceful_timeout": _graceful_timeout(),
            "startup_seconds": STARTUP_SECONDS,
            "resources": SERVE_RESOURCES,
        }
        root = project.root / DIR
        return [
            _planned(
                root / f"{kind}-{name}.yaml",
                env.get_template(f"k8s/{kind}.yaml.j2").render(**values),
            )
            for kind in ("deployment", "service")
        ]

    def _serve_image(self, tag: str, folder: Path) -> str:
        """The serving image by its registry digest when it was pushed, else its tag."""
        from labship.tools.docker import inspect_image

        found = inspect_image(tag)
        digests = [str(d) for d in (found or {}).get("RepoDigests") or ()]
        if digests:
            return digests[0]
        built = "" if found else f"'labship build serve {folder}', then "
        self.notes.append(
            f"the serving image {tag} is not in a registry: the Deployment names the local "
            f"tag, which a cluster cannot pull; run {built}'docker tag' and 'docker push' "
            "it, then 'labship export k8s --serve' again to pin its digest"
        )
        return tag

    def _image(self, project: Project) -> str:
        """The last push by digest; else the local prod tag, said aloud."""
        from labship.images.tags import stable_tags
        from labship.pushes import last_pushed

        pushed = last_pushed(project)
        if pushed is not None:
            return pushed.ref
        tag = stable_tags(project)[1]
        self.notes.append(
            f"no push recorded: the manifests run {tag}, which a cluster can pull only from "
            "a registry; run 'labship push', then 'labship export k8s' to pin its digest"
        )
        return tag

    def _secrets(
        self, project: Project, profiles: list[str], resources: list[str]
    ) -> list[Planned]:
        """The kustomization, the .gitignore, and each profile's env file where it exists."""
        from labship.templates import render

        root = project.root / DIR
        secrets = [{"name": secret_name(project.name, p), "env_file": f"{p}.env"} for p in profiles]
        body = render(
            "k8s/kustomization.yaml.j2", project=project.name, resources=resources, secrets=secrets
        )
        files = [
            _planned(root / "kustomization.yaml", body),
            _planned(root / ".gitignore", render("k8s/gitignore.j2")),
        ]
        for profile in profiles:
            text = _env_file(project, profile)
            if text is None:
                self.notes.append(
                    f"no .env_{profile}: kustomize needs deploy/k8s/{profile}.env for the "
                    f"Secret {secret_name(project.name, profile)}; write .env_{profile}, then "
                    "'labship export k8s' again"
                )
            else:
                files.append(_planned(root / f"{profile}.env", text, private=True))
        return files


def _graceful_timeout() -> float:
    from labship.serving import DEFAULT_TIMEOUTS

    return DEFAULT_TIMEOUTS["graceful_timeout"]


def serve_grace() -> int:
    """terminationGracePeriodSeconds of the serving pod: the preStop sleep, the server's
    graceful timeout (the image's default), and labship's margin before a kill."""
    from labship.serving import STOP_MARGIN

    return int(PRESTOP_SECONDS + _graceful_timeout() + STOP_MARGIN + 0.999)


def serve_name(project: Project, folder: Path) -> str:
    """``<project>-serve-<model folder>``: the Deployment's and the Service's name."""
    return dns_label(f"{project.name}-serve-{folder.name}")


def _distinct(project: Project, models: list[Path]) -> list[Path]:
    """Each model once; two folders that would get one name are refused."""
    seen: dict[str, Path] = {}
    for folder in models:
        name = serve_name(project, folder)
        if name in seen and seen[name] != folder:
            raise ConfigError(
                f"--serve {seen[name]} and --serve {folder} would both be the Deployment {name!r}",
                hint="rename one of the model folders",
            )
        seen[name] = folder
    return list(seen.values())


def _serving_resources(project: Project, planned: list[str]) -> list[str]:
    """The serving files of this export, and those an earlier ``--serve`` wrote."""
    root = project.root / DIR
    earlier = [p.name for p in sorted(root.glob("deployment-*.yaml"))] if root.is_dir() else []
    earlier += [p.name for p in sorted(root.glob("service-*.yaml"))] if root.is_dir() else []
    return sorted(set(planned) | set(earlier))


def _planned(path: Path, body: str, *, private: bool = False) -> Planned:
    text = with_header(HEADER, body)
    return Planned(path, text, "refuse", "labship eject k8s", private=private)


def _common(project: Project, image: str) -> dict[str, Any]:
    from labship.images.container import APP_UID

    return {
        "project": project.name,
        "image": image,
        "uid": APP_UID,
        "backoff_limit": BACKOFF_LIMIT,
        "starting_deadline": STARTING_DEADLINE,
        "history": HISTORY,
        "ttl": TTL,
    }


def _manifest(project: Project, kind: str, named: _Names, common: dict[str, Any]) -> Planned:
    """``job-<name>.yaml`` or ``cronjob-<name>.yaml`` for one job."""
    from labship.targets.k8scron import k8s_schedule
    from labship.templates import environment

    job = named.job
    path = project.root / DIR / f"{kind}-{named.name}.yaml"
    env = environment().overlay()
    env.filters.update(yaml=_yaml, yamllist=_yaml_list)
    body = env.get_template(f"k8s/{kind}.yaml.j2").render(
        job=job,
        name=named.name,
        labels=named.labels,
        secret=secret_name(project.name, job.profile),
        schedule=k8s_schedule(project, job) if kind == "cronjob" else "",
        path=str(path.relative_to(project.root)),
        **common,
        grace=job.stop_timeout,  # as `labship run`: the job's own stop_timeout
    )
    return _planned(path, body)


def _env_file(project: Project, profile: str) -> str | None:
    """The profile's values in kustomize's env-file grammar; None without the profile."""
    from labship.profiles import load_profile, profile_path
    from labship.templates import render

    if not profile_path(project.root, profile).is_file():
        return None
    loaded = load_profile(project.root, profile, required=project.settings.required)
    for key, value in loaded.values.items():
        if "\n" in value or "\r" in value:
            raise ProfileError(
                f"{loaded.path}: {key} holds a line break, which kustomize's env files "
                "cannot (one KEY=value a line)",
                hint=f"make {key} one line, or create the Secret yourself and eject k8s",
            )
    source = loaded.path.name
    return render("k8s/env.j2", profile=profile, source=source, values=loaded.values)
