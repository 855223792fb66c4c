"""vaelab.report.page: build_report returns the page and writes nothing into the run."""

from __future__ import annotations

import re

import pytest
from cli_helpers import IMG
from helpers import K, melodies, seq_data

import vaelab
from vaelab.config import ModelConfig
from vaelab.report import build_report

pytestmark = pytest.mark.usefixtures("one_thread", "isolated")


def test_build_report_writes_nothing(copy):
    r = copy("vae")
    before = sorted(p.name for p in r.iterdir())
    page = build_report(vaelab.load(r), r, vaelab.load_dataset("digits"))
    assert page.startswith("<!DOCTYPE html>") and page.count(IMG) == 8
    assert sorted(p.name for p in r.iterdir()) == before


def settings(page: str) -> set[str]:
    """The names in the tables of the page's run summary (overview, model, data, training)."""
    summary = page[page.index('id="summary"'):page.index('id="evaluation"')]
    return set(re.findall(r'<td class="k">([^<]*)</td>', summary))


def report(run_dir, data) -> str:
    return build_report(vaelab.load(run_dir), run_dir, data)


def test_the_settings_of_an_image_run_leave_out_what_does_not_apply(copy, digits):
    vae = settings(report(copy("vae"), digits))
    assert {"cell", "n_tokens", "steps_per_bar", "pitch_range", "voices", "steps_per_quarter",
            "categories", "columns", "condition", "label_embedding", "scale", "sigma"}.isdisjoint(vae)
    assert {"channels", "binarize", "beta", "free_bits", "kl_warmup", "classes", "value_range",
            "last train kl"} <= vae
    ae = settings(report(copy("ae"), digits))
    assert {"beta", "free_bits", "logvar_limit", "kl_schedule", "kl_warmup", "last train kl"}.isdisjoint(ae)
    assert {"channels", "binarize", "last train rec", "lr"} <= ae


def test_the_settings_of_a_music_run_show_its_token_fields(tmp_path):
    data = seq_data(melodies(24, 16, 2, K - 1))
    model = vaelab.build_model(ModelConfig(latent_dim=2, hidden=(16,)), data, seed=0)
    vaelab.fit(model, data.x_train, config=vaelab.TrainConfig(epochs=1, device="cpu"), run_dir=tmp_path / "m")
    shown = settings(build_report(model, tmp_path / "m", data))
    assert {"cell", "n_tokens", "steps_per_bar", "pitch_range", "voices", "steps_per_quarter"} <= shown
    assert {"channels", "activation", "binarize", "scale", "sigma", "categories", "columns"}.isdisjoint(shown)
