"""vaelab.cli.main, the entry point: usage errors, --debug and the installed console script."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import run

import vaelab
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


@contextlib.contextmanager
def read_only(folder: Path, monkeypatch) -> Iterator[tuple[Path, str]]:
    """``folder`` made read-only, the realest way this machine allows: a read-only bind mount (as
    root, where mounting is allowed), no write permission (as a user), else RunDir told so."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield folder, "no write permission"
        finally:
            folder.chmod(0o755)
        return
    view = folder.with_name(folder.name + "-ro")
    view.mkdir()

    def mount(*args: str) -> bool:
        if not shutil.which("mount"):
            return False
        return subprocess.run(["mount", *args], capture_output=True).returncode == 0

    mounted = mount("--bind", str(folder), str(view))
    if mounted and not mount("-o", "remount,bind,ro", str(view)):  # older kernels: ro needs a remount
        subprocess.run(["umount", str(view)], check=True)
        mounted = False
    if not mounted:
        view.rmdir()
        monkeypatch.setattr(vaelab.RunDir, "writable", lambda self: False)
        yield folder, "RunDir.writable() patched"
        return
    try:
        yield view, "read-only bind mount"
    finally:
        subprocess.run(["umount", str(view)], check=True)
        view.rmdir()


def test_every_read_only_command_works_on_a_read_only_run(digits_run, capsys, tmp_path, monkeypatch):
    """A shared, mounted or archived run: its derived files (report, evaluation, GMM) go to
    $VAELAB_CACHE/runs/..., and the run directory stays byte for byte as it was."""
    original = Path(shutil.copytree(digits_run("ae", "mlp")[0], tmp_path / "ro"))
    shutil.rmtree(original / "figures")
    before = {p.name: p.read_bytes() for p in original.iterdir()}
    with read_only(original, monkeypatch) as (ro, how):
        cache = vaelab.RunDir(ro).cache()
        code, out, err = run(capsys, "report", str(ro))
        assert code == 0 and out.strip() == str(cache / "report.html"), (how, err)
        code, out, err = run(capsys, "evaluate", str(ro), "--json", "--iwae-k", "5", "--no-fidelity")
        assert code == 0, err
        assert (cache / "evaluation.json").exists()
        for name in ("a.npy", "b.npy"):  # fitted and cached once, then reused
            code, out, err = run(capsys, "sample", str(ro), "--sampler", "gmm", "-n", "4", "--out", name)
            assert code == 0, err
        assert f"GMM in {cache / 'gmm.safetensors'}" in out
        code, out, err = run(capsys, "info", str(ro))
        derived = next(line for line in out.splitlines() if line.startswith("derived "))
        assert code == 0 and "stale" not in out, err
        assert all(str(cache / name) in derived for name in (vaelab.RunDir.EVALUATION, vaelab.RunDir.GMM,
                                                             vaelab.RunDir.REPORT))
    assert {p.name: p.read_bytes() for p in original.iterdir()} == before
