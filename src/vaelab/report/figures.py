"""The standard pictures of a run, written into its ``figures/`` folder after training: curves,
reconstructions, samples, denoising, piano rolls and MIDI files of music runs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vaelab import latent, plots
from vaelab.data import Dataset
from vaelab.export import interleave, save_figure, write_csv, write_data
from vaelab.losses import kl_collapse
from vaelab.models import Autoencoder
from vaelab.noise import psnr
from vaelab.run import RunDir


@torch.no_grad()
def write_run_figures(model: Autoencoder, data: Dataset, run_dir: str | os.PathLike[str]) -> list[Path]:
    """The standard pictures of a run: training curves (marking a KL collapse); for images, test
    reconstructions, samples from the prior (one row per class for a cvae) and, for a model trained
    with noise, a denoising example (figures/*.png); for tables, samples in RUN/samples.csv; for
    music, piano rolls and MIDI files of reconstructions and samples, or of harmonizations."""
    info = model.data_info
    run = RunDir(run_dir)
    history = run.read_metrics()
    collapsed = kl_collapse(history) if model.variational else None
    curves = plots.training_curves(history, title=str(run), collapse_epoch=collapsed)
    written = [save_figure(curves, run.figure("curves.png"))]
    gen = torch.Generator(device=model.device).manual_seed(0)
    y_test = None
    if model.conditional and data.y_test is not None:
        y_test = torch.as_tensor(data.y_test, device=model.device)
    if info.kind == "sequence":
        written += _music_figures(model, data, run, gen)
    elif info.kind == "image":
        x = data.x_test[:30]
        xt = torch.from_numpy(x).to(model.device)
        yt = None if y_test is None else y_test[:30]
        recon = model.reconstruct(xt, yt).cpu().numpy()
        grid = plots.reconstruction_grid(x, recon, tuple(info.value_range))
        written.append(save_figure(grid, run.figure("reconstructions.png")))
        if model.noise != "none":
            noisy = model.corrupt(xt[:16], torch.Generator(device=model.device).manual_seed(0))
            denoised = model.reconstruct(noisy, None if yt is None else yt[:16]).cpu().numpy()
            vr = tuple(info.value_range)
            gain = psnr(x[:16], denoised, vr) - psnr(x[:16], noisy.cpu().numpy(), vr)
            fig = plots.denoising_grid(x[:16], noisy.cpu().numpy(), denoised, vr,
                                       title=f"{model.noise}: PSNR gain {gain:+.2f} dB on these test images")
            written.append(save_figure(fig, run.figure("denoising.png")))
        if model.generative and model.conditional and model.config.condition == "label":
            classes = info.classes or [str(k) for k in range(model.config.n_conditions)]
            per = 10
            labels = torch.arange(len(classes), device=model.device).repeat_interleave(per)
            samples = model.sample(len(labels), labels, generator=gen).cpu().numpy()
            fig = plots.labelled_rows(samples.reshape(len(classes), per, *samples.shape[1:]),
                                      tuple(info.value_range), list(classes),
                                      title="samples from the prior, one row per label")
            written.append(save_figure(fig, run.figure("samples.png")))
        elif model.generative and not model.conditional:
            samples = model.sample(64, generator=gen).cpu().numpy()
            written.append(write_data(run.figure("samples.png"), samples, info,
                                      title="samples from the prior"))
    elif model.generative:
        if model.conditional and y_test is not None:
            y = y_test[torch.arange(100, device=model.device) % len(y_test)]
            samples = model.sample(100, y, generator=gen).cpu().numpy()
            given = y.cpu().numpy()
            if model.config.condition == "label":  # the label column, by class name
                classes = info.classes or [str(k) for k in range(model.config.n_conditions)]
                written.append(write_csv(run.file(run.SAMPLES), samples, info.columns,
                                         labels=np.array([classes[k] for k in given]),
                                         label_name=info.label_column or "label",
                                         categories=info.categories))
            else:  # the condition columns first, then the features
                names = [*info.condition_columns, *info.columns]
                cats = [*[()] * len(info.condition_columns), *(info.categories or [()] * len(
                    info.columns))]
                written.append(write_csv(run.file(run.SAMPLES), np.concatenate([given, samples], axis=1),
                                         names, categories=cats))
        elif not model.conditional:
            samples = model.sample(100, generator=gen).cpu().numpy()
            written.append(write_data(run.file(run.SAMPLES), samples, info))
    return written


@dataclass(frozen=True)
class MusicPairs:
    """Test windows next to a music model's version of them, ready for :func:`write_data` with
    ``ncols=2``: ``tokens`` (2N, *shape) original then model, one caption per window, a title, and
    the file stem (``harmonizations`` or ``reconstructions``)."""

    tokens: np.ndarray
    titles: list[str]
    title: str
    name: str


@torch.no_grad()
def music_pairs(model: Autoencoder, x: np.ndarray, generator: torch.Generator) -> MusicPairs:
    """A harmonizer's voices under the sopranos of token windows ``x`` (N, 4, T), drawn at
    temperature 0.5; for other music models, greedy reconstructions of ``x``."""
    xt = torch.from_numpy(x).to(model.device)
    if model.harmonizes:
        made = model.harmonize(xt[:, 0], n_variations=1, temperature=0.5, generator=generator)[:, 0]
        titles = [f"{who}, test window {i}" for i in range(len(x)) for who in ("original", "harmonizer")]
        return MusicPairs(interleave(x, made.cpu().numpy()), titles, "test windows, then the harmonizer's "
                          "voices under the same soprano (temperature 0.5)", "harmonizations")
    return MusicPairs(interleave(x, model.reconstruct(xt).cpu().numpy()),
                      [f"{who} {i}" for i in range(len(x)) for who in ("test window", "reconstruction")],
                      "test windows and their reconstructions (greedy decoding)", "reconstructions")


def _music_figures(model: Autoencoder, data: Dataset, run: RunDir, gen: torch.Generator) -> list[Path]:
    """Piano rolls (.png) and MIDI files (.mid) of a music run: :func:`music_pairs` of three test
    windows, and for a generative model samples from the prior."""
    info, written = model.data_info, []
    shown = music_pairs(model, data.x_test[:3], gen)
    for suffix in (".png", ".mid"):
        written.append(write_data(run.figure(f"{shown.name}{suffix}"), shown.tokens, info,
                                  titles=shown.titles, ncols=2, title=shown.title))
    if model.generative and not model.conditional and not model.harmonizes:
        samples = latent.sample(model, 8, generator=gen, token_temperature=0.5).cpu().numpy()
        titles = [f"sample {i}" for i in range(len(samples))]
        for suffix in (".png", ".mid"):
            written.append(write_data(run.figure(f"samples{suffix}"), samples, info, titles=titles,
                                      title="samples from the prior (tokens drawn at temperature 0.5)"))
    return written
