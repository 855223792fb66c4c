"""Pictures. Every function takes plain arrays (numpy or CPU tensors) in the data's own units,
returns a matplotlib Figure and never saves or shows it: the caller decides where pictures go.
Nothing here imports a model; the caller encodes, decodes and interpolates (:mod:`vaelab.latent`).

- :mod:`~vaelab.plots.images`: grids, strips, traversals, manifolds of images; KL per dimension and
  training curves;
- :mod:`~vaelab.plots.latent`: latent codes as points;
- :mod:`~vaelab.plots.music`: piano rolls of note tokens;
- :mod:`~vaelab.plots.anomaly`: the histogram of anomaly scores with its threshold.
"""

from vaelab.plots.anomaly import score_histogram
from vaelab.plots.images import (
    HIGHLIGHT,
    attribute_strip,
    denoising_grid,
    image_grid,
    interpolation_strip,
    kl_per_dimension,
    labelled_rows,
    manifold_grid,
    normal_grid,
    reconstruction_grid,
    tile,
    training_curves,
    traversal_grid,
)
from vaelab.plots.latent import latent_comparison, latent_scatter
from vaelab.plots.music import note_name, piano_rolls

__all__ = ["HIGHLIGHT", "attribute_strip", "denoising_grid", "image_grid", "interpolation_strip",
           "kl_per_dimension", "labelled_rows", "latent_comparison", "latent_scatter", "manifold_grid",
           "normal_grid", "note_name", "piano_rolls", "reconstruction_grid", "score_histogram", "tile",
           "training_curves", "traversal_grid"]
