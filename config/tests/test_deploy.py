"""The deployment files say what the fault suite runs: the systemd units start the Procfile's commands."""

import re
import shutil
import subprocess

import pytest

from testutils import PROJECT

PROCFILE = dict(
    (name.strip(), command.strip())
    for name, _, command in (line.partition(":") for line in (PROJECT / "Procfile").read_text().splitlines() if line)
)


@pytest.mark.parametrize(
    ("unit", "kind"),
    [("image-api.service", "web"), ("image-worker@.service", "worker"), ("image-beat.service", "beat")],
)
def test_each_systemd_unit_runs_its_procfile_line(unit, kind):
    text = (PROJECT / "deploy" / "systemd" / unit).read_text()
    [exec_start] = re.findall(r"^ExecStart=/bin/bash -c 'exec (.+)'$", text, flags=re.MULTILINE)

    # systemd's escapes: $$ is a literal $ (for bash's ${VAR:-default}), %% a literal % (for Celery's %h).
    assert exec_start.replace("$$", "$").replace("%%", "%") == PROCFILE[kind]
    assert "Restart=always" in text  # a worker that exits is started again (docs/deployment.md, several machines)


def test_the_procfile_names_every_process_the_deployment_docs_list():
    assert set(PROCFILE) == {"web", "worker", "beat"}
    deployment = (PROJECT / "docs" / "deployment.md").read_text()
    for command in PROCFILE.values():
        assert command in deployment  # the Processes table quotes each line whole


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_the_systemd_units_pass_systemd_analyze_verify(tmp_path):
    for unit in (PROJECT / "deploy" / "systemd").glob("*.service"):
        shutil.copy(unit, tmp_path / unit.name.replace("@.service", "@1.service"))
    units = sorted(str(path) for path in tmp_path.glob("*.service"))

    verified = subprocess.run(["systemd-analyze", "verify", "--man=no", *units], capture_output=True, text=True)

    assert (verified.returncode, verified.stdout + verified.stderr) == (0, "")
