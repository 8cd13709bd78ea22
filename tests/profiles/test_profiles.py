"""Profiles: finding and loading ``.env_<name>`` files, and a job's environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from profilefixtures import SECRET, profile, write

from labship.errors import ProfileError, UsageError
from labship.profiles import (
    BASE_VARIABLES,
    job_environment,
    list_profiles,
    load_profile,
    profile_path,
    secret_values,
)

# --------------------------------------------------------------------------- profiles


def test_profile_path(tmp_path: Path) -> None:
    assert profile_path(tmp_path, "prod") == tmp_path / ".env_prod"


def test_list_profiles(tmp_path: Path) -> None:
    for name in (".env_prod", ".env_dev", ".env_ci-2", ".env.example", ".env", ".env_"):
        write(tmp_path / name, "A=1\n")
    for backup in (".env_dev.bak", ".env_dev~", ".env_dev.swp", "env_x"):
        write(tmp_path / backup, "A=1\n")
    (tmp_path / ".env_adir").mkdir()
    assert list_profiles(tmp_path) == ["ci-2", "dev", "prod"]
    assert list_profiles(tmp_path / "missing") == []


def test_load_profile(tmp_path: Path) -> None:
    write(tmp_path / ".env_dev", f"DB=db\nDB_PASSWORD={SECRET}\n")
    loaded = load_profile(tmp_path, "dev", required=["DB"], secret=["DB_PASSWORD", "API_KEY"])
    assert loaded.name == "dev"
    assert loaded.path == tmp_path / ".env_dev"
    assert loaded.values == {"DB": "db", "DB_PASSWORD": SECRET}
    assert loaded.secret_keys == frozenset({"DB_PASSWORD", "API_KEY"})


def test_unknown_profile_is_a_usage_error(tmp_path: Path) -> None:
    write(tmp_path / ".env_dev", "A=1\n")
    write(tmp_path / ".env_prod", "A=1\n")
    with pytest.raises(UsageError) as info:
        load_profile(tmp_path, "staging")
    message = str(info.value)
    assert "'staging'" in message
    assert str(tmp_path / ".env_staging") in message
    assert "dev, prod" in message
    assert info.value.exit_code == 64
    assert "\n" not in message


def test_unknown_profile_without_any_profile(tmp_path: Path) -> None:
    for name in ("dev", "prod"):  # an unmade usual profile is not a typo of itself
        with pytest.raises(UsageError, match=rf"create \.env_{name}") as info:
            load_profile(tmp_path, name)
        assert "did you mean" not in str(info.value)
    with pytest.raises(UsageError, match=r"did you mean 'prod'\? create \.env_prod"):
        load_profile(tmp_path, "prd")


def test_profile_names_cannot_escape_the_root(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / ".env_x").mkdir(parents=True)
    write(tmp_path / "outside", "A=1\n")
    write(root / ".env_", "A=1\n")
    assert (root / ".env_x/../../outside").is_file()  # so only the name check stops it
    for name in ("x/../../outside", ""):
        with pytest.raises(UsageError, match="unknown profile"):
            load_profile(root, name)


def test_missing_required_names_all_of_them(tmp_path: Path) -> None:
    write(tmp_path / ".env_prod", f"A=1\nB=\nPASSWORD={SECRET}\n")
    write(tmp_path / ".env.example", "A=\nB=\nC=\n")
    with pytest.raises(ProfileError) as info:
        load_profile(tmp_path, "prod", required=["A", "B", "C", "C"], secret=["PASSWORD"])
    message = str(info.value)
    assert str(tmp_path / ".env_prod") in message
    assert "variables B, C " in message
    assert "(see .env.example)" in message
    assert "add them to .env_prod" in message
    assert SECRET not in message
    assert info.value.exit_code == 65


def test_missing_one_required_without_example(tmp_path: Path) -> None:
    write(tmp_path / ".env_dev", "A=1\n")
    with pytest.raises(ProfileError) as info:
        load_profile(tmp_path, "dev", required=["TOKEN"])
    assert "variable TOKEN " in str(info.value)
    assert str(info.value).endswith("; add it to .env_dev")


def test_masked_hides_secrets_and_where_they_were_interpolated() -> None:
    p = profile(
        "prod",
        {"USER_NAME": "svc", "PASSWORD": SECRET, "URL": f"pg://svc:{SECRET}@db", "EMPTY": ""},
        secret=("PASSWORD", "EMPTY"),
    )
    assert p.masked() == {
        "USER_NAME": "svc",
        "PASSWORD": "****",
        "URL": "pg://svc:****@db",
        "EMPTY": "****",
    }
    assert SECRET not in repr(p)
    assert "svc" in repr(p)


def test_secret_values() -> None:
    p = profile(
        "p", {"A": "abc", "B": "abcdef", "C": "abc", "D": "", "E": "shown"}, ("A", "B", "C", "D")
    )
    assert secret_values(p) == ["abcdef", "abc"]


# --------------------------------------------------------------------------- job environment

CALLER = {
    "PATH": "/caller/bin:/usr/bin",
    "HOME": "/home/ann",
    "USER": "ann",
    "LANG": "en_US.UTF-8",
    "TERM": "xterm",
    "HTTPS_PROXY": "http://proxy:3128",
    "https_proxy": "http://proxy:3128",
    "SSL_CERT_FILE": "/etc/corp-ca.pem",
    "AWS_SECRET_ACCESS_KEY": "caller-aws-secret",
    "PYTHONPATH": "/caller/site",
    "VIRTUAL_ENV": "/caller/venv",
    "CONDA_PREFIX": "/opt/conda",
    "PIP_CERT": "/etc/pip.pem",
}


def test_job_gets_exactly_base_profile_and_extra() -> None:
    p = profile("dev", {"DB": "db", "TZ": "UTC"})
    env = job_environment(p, extra={"LABSHIP_PROFILE": "dev"}, caller_env=CALLER)
    assert env == {
        "PATH": "/caller/bin:/usr/bin",
        "HOME": "/home/ann",
        "USER": "ann",
        "LANG": "en_US.UTF-8",
        "TERM": "xterm",
        "HTTPS_PROXY": "http://proxy:3128",
        "https_proxy": "http://proxy:3128",
        "SSL_CERT_FILE": "/etc/corp-ca.pem",
        "DB": "db",
        "TZ": "UTC",
        "LABSHIP_PROFILE": "dev",
    }


def test_every_base_variable_passes_through_and_nothing_else() -> None:
    caller = {name: f"v-{name}" for name in BASE_VARIABLES} | {"OTHER": "x", "AWS_PROFILE": "y"}
    env = job_environment(profile("dev", {}), caller_env=caller)
    assert env == {name: f"v-{name}" for name in BASE_VARIABLES}


@pytest.mark.parametrize("caller", [{}, {"PATH": ""}])
def test_path_defaults_when_caller_has_none(caller: dict[str, str]) -> None:
    assert job_environment(profile("dev", {}), caller_env=caller) == {
        "PATH": "/usr/local/bin:/usr/bin:/bin"
    }


def test_precedence_base_then_profile_then_extra_then_path_prefix() -> None:
    p = profile("dev", {"HOME": "/profile/home", "PATH": "/profile/bin", "X": "profile"})
    env = job_environment(
        p,
        extra={"X": "extra", "VIRTUAL_ENV": "/p/.venv"},
        caller_env=CALLER,
        path_prefix=["/p/.venv/bin", "/p/bin"],
    )
    assert env["HOME"] == "/profile/home"
    assert env["X"] == "extra"
    assert env["VIRTUAL_ENV"] == "/p/.venv"
    assert env["PATH"] == os.pathsep.join(["/p/.venv/bin", "/p/bin", "/profile/bin"])


def test_defaults_to_os_environ_without_leaking(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-the-shell")
    monkeypatch.setenv("PATH", "/from/os/environ")
    env = job_environment(profile("dev", {"A": "1"}))
    assert "AWS_SECRET_ACCESS_KEY" not in env
    assert env["PATH"] == "/from/os/environ"
    assert env["A"] == "1"


# --------------------------------------------------------------------------- import cost


def new_modules(statement: str) -> set[str]:
    """Modules outside the standard library that ``statement`` imports, in a fresh
    interpreter so that nothing is imported already."""
    code = (
        f"import sys; before = set(sys.modules); {statement}; "
        "new = set(sys.modules) - before; "
        "stdlib = sys.stdlib_module_names; "
        "print(' '.join(sorted(m for m in new if m.split('.')[0] not in stdlib)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_import_pulls_in_only_the_standard_library() -> None:
    assert new_modules("import labship.profiles") <= {
        "labship",
        "labship.errors",
        "labship.inputs",  # reads regular files only: standard library too
        "labship.masking",
        "labship.profiles",
        "labship.profiles.envfile",
    }  # not labship.profiles.report: that is for `labship env` only


def test_report_is_imported_on_first_use() -> None:
    assert "labship.profiles.report" not in new_modules("import labship.profiles")
    first_use = "import labship.profiles; labship.profiles.env_report"
    assert "labship.profiles.report" in new_modules(first_use)


# --------------------------------------------------------------------------- re-exports


def test_names_that_moved_are_still_importable_from_labship_profiles() -> None:
    """Callers keep ``from labship.profiles import X`` for what moved out of this package."""
    import labship.masking
    import labship.profiles
    import labship.profiles.envfile
    import labship.profiles.report

    homes = {
        labship.masking: ["MASK", "Masker"],
        labship.profiles.envfile: ["parse_env_file", "parse_env_text"],
        labship.profiles.report: [
            "EnvReport",
            "KeyDifference",
            "ProfileReport",
            "diff_profiles",
            "env_report",
        ],
    }
    for module, names in homes.items():
        for name in names:
            assert getattr(labship.profiles, name) is getattr(module, name), name
            assert name in labship.profiles.__all__


def test_unknown_attribute_is_an_attribute_error() -> None:
    import labship.profiles

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = labship.profiles.nope
