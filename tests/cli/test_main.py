"""vaelab.cli.main, the entry point: usage errors, --debug and the installed console script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vaelab.cli import main


def test_usage_errors_exit_2(digits_run, capsys):
    out, _ = digits_run("vae", "conv")
    with pytest.raises(SystemExit) as exit_info:
        main(["sample", str(out)])
    assert exit_info.value.code == 2
    assert "the following arguments are required: --out" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--hidden", "16,x"])
    assert exit_info.value.code == 2
    assert "expected comma-separated integers, got '16,x'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["nope"])
    assert exit_info.value.code == 2 and "invalid choice: 'nope'" in capsys.readouterr().err


def test_debug_shows_the_exception(capsys):
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        main(["train", "--debug", "--data", "missing.csv"])


def test_console_script_runs_and_errors_cleanly(digits_run, tmp_path):
    script = Path(sys.executable).with_name("vaelab")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "vaelab.cli"]
    out, _ = digits_run("ae", "mlp")
    done = subprocess.run([*command, "info", str(out)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "model      ae, arch mlp, latent 2" in done.stdout and "2/2 epochs" in done.stdout

    done = subprocess.run([*command, "sample", "no-such-run", "--out", "x.npy"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines() == ["vaelab: error: run directory no-such-run does not exist"]
    assert done.stdout == ""


def test_bare_vaelab_lists_the_commands(capsys):
    assert main([]) == 2
    err = capsys.readouterr().err
    for command in ("train", "sample", "evaluate", "report", "accompany"):
        assert f"    {command}" in err


def test_ctrl_c_in_any_command_is_one_line_and_exit_130(digits_run, capsys, monkeypatch):
    out, _ = digits_run("vae", "conv")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("vaelab.evaluate", interrupted)
    assert main(["evaluate", str(out), "--iwae-k", "2", "--no-fidelity"]) == 130
    err = capsys.readouterr().err
    assert err.strip() == "interrupted" and "Traceback" not in err


def test_every_read_only_command_works_on_a_read_only_run(digits_run, capsys, tmp_path, monkeypatch):
    """A shared, mounted or archived run: its derived files (report, evaluation, GMM) go to
    $VAELAB_CACHE/runs/..., and the run directory stays byte for byte as it was."""
    import os
    import shutil

    from cli_helpers import run

    import vaelab

    ro = Path(shutil.copytree(digits_run("ae", "mlp")[0], tmp_path / "ro"))
    shutil.rmtree(ro / "figures")
    before = {p.name: p.read_bytes() for p in ro.iterdir()}
    if os.geteuid() == 0:  # permissions do not bind root: say what a read-only mount would say
        monkeypatch.setattr(vaelab.RunDir, "writable", lambda self: False)
    ro.chmod(0o555)
    try:
        cache = vaelab.RunDir(ro).cache()
        code, out, err = run(capsys, "report", "ro")
        assert code == 0 and out.strip() == str(cache / "report.html"), err
        code, out, err = run(capsys, "evaluate", "ro", "--json", "--iwae-k", "5", "--no-fidelity")
        assert code == 0, err
        assert (cache / "evaluation.json").exists()
        for name in ("a.npy", "b.npy"):  # fitted and cached once, then reused
            code, out, err = run(capsys, "sample", "ro", "--sampler", "gmm", "-n", "4", "--out", name)
            assert code == 0, err
        assert str(cache / "gmm.safetensors") in out
        assert run(capsys, "info", "ro")[0] == 0
    finally:
        ro.chmod(0o755)
    assert {p.name: p.read_bytes() for p in ro.iterdir()} == before
