"""The latent space: codes, sampling, interpolation, attribute vectors, traversals, post-hoc samplers.

Functions take a model and inputs in the data's own units, (N, *shape) numpy arrays or tensors, and
give decoded data back in those units. Codes are ``model.embed`` (posterior means for a VAE). Random
draws come from a ``torch.Generator`` (CPU unless the generator lives elsewhere), so results are
reproducible and independent of the model's device. Big inputs are embedded and decoded in batches.

>>> gmm = latent.fit_gmm(model, data.x_train)                  # works for an AE too
>>> x = latent.sample(model, 16, sampler=gmm, generator=torch.Generator().manual_seed(0))
>>> frames, z = latent.interpolate(model, data.x_test[0], data.x_test[1], steps=8)
"""

from vaelab.latent.attributes import apply_vector, attribute_vector, label_attribute, restyle
from vaelab.latent.codes import codes
from vaelab.latent.interpolation import Interpolation, interpolate, lerp, slerp
from vaelab.latent.neighbours import Neighbours, nearest_training_examples
from vaelab.latent.samplers import GMMSampler, fit_gmm
from vaelab.latent.sampling import sample, sample_chunks
from vaelab.latent.traversal import Traversal, traverse
from vaelab.latent.usage import active_units, kl_per_dimension

__all__ = [
    "GMMSampler", "Interpolation", "Neighbours", "Traversal", "active_units", "apply_vector",
    "attribute_vector", "codes", "fit_gmm", "interpolate", "kl_per_dimension", "label_attribute",
    "lerp", "nearest_training_examples", "restyle", "sample", "sample_chunks", "slerp", "traverse",
]
