"""vaelab.plots (the package): the plot modules import neither pyplot nor models nor training."""

from __future__ import annotations

import ast
import inspect

from vaelab import plots
from vaelab.plots import latent as plots_latent


def test_plot_modules_import_neither_pyplot_nor_models_nor_training() -> None:
    for module in (plots, plots_latent):
        tree = ast.parse(inspect.getsource(module))
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not names & {"matplotlib.pyplot", "vaelab.training", "vaelab.models", "torch"}
