"""Import paths of vaelab 0.1 that moved in 0.2: each still works for one release and warns.

``import vaelab.plots_latent`` (or ``from vaelab.metrics import elbo``) gives the module at its new
home, the same object, after a ``DeprecationWarning`` that names the new path. The table below is
the one record of what moved; a test imports every old path through it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from collections.abc import Callable
from types import ModuleType

#: old module path -> new module path
MODULES: dict[str, str] = {
    "vaelab.checkpoint": "vaelab.run",
    "vaelab.inference": "vaelab._batching",
    "vaelab.samplers": "vaelab.latent.samplers",
    "vaelab.metrics": "vaelab.evaluation.metrics",
    "vaelab.fidelity": "vaelab.evaluation.fidelity",
    "vaelab.classifier": "vaelab.evaluation.classifier",
    "vaelab.evaluation_music": "vaelab.evaluation.music",
    "vaelab.melody": "vaelab.music.melody",
    "vaelab.harmony": "vaelab.music.harmony",
    "vaelab.accompaniment": "vaelab.music.accompaniment",
    "vaelab.outputs": "vaelab.export",
    "vaelab.distributions_table": "vaelab.distributions.table",
    "vaelab.plots_latent": "vaelab.plots.latent",
    "vaelab.plots_music": "vaelab.plots.music",
    "vaelab.plots_anomaly": "vaelab.plots.anomaly",
    "vaelab.report_html": "vaelab.report.html",
}

def _checkpoint() -> ModuleType:
    """vaelab 0.1's ``checkpoint`` module, whose functions are now :class:`vaelab.run.RunDir` methods and
    :func:`vaelab.load`: the same functions, built on them."""
    # By name, like every alias here: this module sits at the bottom of the layers (the package root
    # imports it), so it must not import the models statically.
    load = importlib.import_module("vaelab.models.base").load
    RunDir = importlib.import_module("vaelab.run").RunDir  # noqa: N806 (the class)

    def read_config(run_dir: object) -> dict[str, object]:
        c = RunDir(run_dir).read_config()  # type: ignore[arg-type]
        return {"vaelab_version": c.vaelab_version, "model": c.model, "train": c.train, "data": c.data,
                "data_info": c.data_info.to_dict() if c.data_info is not None else {}}

    module = ModuleType("vaelab.checkpoint", "Deprecated: use vaelab.run.RunDir and vaelab.load.")
    module.__dict__.update(
        CONFIG=RunDir.CONFIG, WEIGHTS=RunDir.WEIGHTS, TRAINER_STATE=RunDir.TRAINER_STATE,
        METRICS=RunDir.METRICS, EVALUATION=RunDir.EVALUATION, read_config=read_config, load_model=load,
        save_model=lambda model, run_dir: model.save(run_dir),
        read_metrics=lambda run_dir: RunDir(run_dir).read_metrics(),
        load_trainer_state=lambda run_dir: RunDir(run_dir).load_trainer_state(),
        is_run_dir=lambda path: RunDir(path).is_run())
    return module


#: old module paths whose contents changed shape: old path -> builder of a module that keeps them
BUILT: dict[str, Callable[[], ModuleType]] = {"vaelab.checkpoint": _checkpoint}

#: old top-level attribute of ``vaelab`` -> where it lives now (``vaelab.plots_latent``)
NAMES: dict[str, str] = {old.removeprefix("vaelab."): new for old, new in MODULES.items()
                         if old == "vaelab.plots_latent"}


class _Alias(importlib.abc.Loader):
    """Loads an old path as the module at its new path, after a warning."""

    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        warnings.warn(f"{spec.name} is deprecated and will be removed in vaelab 0.3; use {self.new}",
                      DeprecationWarning, stacklevel=2)  # warn() skips importlib's frames
        build = BUILT.get(spec.name)
        return build() if build is not None else importlib.import_module(self.new)

    def exec_module(self, module: ModuleType) -> None:
        """The module ran when it was imported at its new path; nothing is left to do."""


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: object, target: object = None
                  ) -> importlib.machinery.ModuleSpec | None:
        new = MODULES.get(fullname)
        return None if new is None else importlib.machinery.ModuleSpec(fullname, _Alias(new))


def install() -> None:
    """Put the finder on ``sys.meta_path`` once."""
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.append(_Finder())
