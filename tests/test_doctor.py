"""`vaegrade doctor`: which confinement layers hold here, probed in a real sandboxed child."""

from __future__ import annotations

import platform

from click.testing import CliRunner

from grader.cli import cli
from grader.sandbox import confine, doctor

FULL_KERNEL = confine.landlock_abi() > 0 and platform.machine() in ("x86_64", "AMD64")


def test_the_probe_reports_every_layer_from_a_real_child():
    report = doctor.probe()
    assert not report.problem
    names = [layer.name for layer in report.layers]
    assert names == ["landlock", "seccomp", "no_new_privs", "capabilities", "audit_hook", "rlimits", "namespaces"]
    held = {layer.name for layer in report.layers if layer.holds}
    # These do not depend on the kernel's optional features: a child that lacks them is a broken sandbox.
    assert {"no_new_privs", "capabilities", "audit_hook", "rlimits"} <= held
    assert ("landlock" in held) == (confine.landlock_abi() > 0)
    assert report.ok() == FULL_KERNEL
    assert report.missing(doctor.REQUIRED + ("namespaces",))[-1] == "namespaces"   # not used by this sandbox


def test_a_missing_layer_is_named_and_refused():
    layers = tuple(doctor.Layer(layer.name, layer.holds and layer.name != "landlock", layer.detail, layer.required)
                   for layer in doctor._layers(7, [7, True, True, True, True, True, True, True]))
    report = doctor.Report(layers, "node17")
    assert not report.ok() and report.missing() == ["landlock"]
    assert "cannot hold landlock on node17" in report.reason()
    assert "NOT SAFE TO GRADE" in report.text() and "landlock      MISSING" in report.text()
    broken = doctor.Report(doctor._layers(0, None), "node18", problem="could not start the sandbox: no python")
    assert not broken.ok() and "cannot start on node18" in broken.reason()


def test_the_doctor_command(monkeypatch):
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == (0 if FULL_KERNEL else 1), result.output
    for name in ("landlock", "seccomp", "no_new_privs", "capabilities", "audit_hook", "rlimits", "namespaces"):
        assert name in result.output
    assert "verdict:" in result.output and "Traceback" not in result.output
    monkeypatch.setattr(doctor, "probe", lambda: doctor.Report(doctor._layers(0, None), "here", "no sandbox"))
    refused = CliRunner().invoke(cli, ["doctor"])
    assert refused.exit_code == 1 and "NOT SAFE TO GRADE" in refused.output
