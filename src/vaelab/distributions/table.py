"""The likelihood of a table with numeric and categorical columns, and missing cells.

A row x holds one entry per original column (:mod:`vaelab.data.columns`): a value for a numeric
column, a category code 0..K-1 for a categorical one, NaN for a missing cell. The decoder emits one
number per numeric column (the mean, in standardized units) and K logits per categorical column;
the columns are independent given z:

    log p(x|z) = sum over numeric j of log N(x_j; mean_j, sigma_j^2)
               + sum over categorical j of log softmax(logits_j)[x_j]

summed over the observed cells only, so a row with missing cells is scored on what it has: the
ELBO is then a bound on log p(x_observed), the marginal of the missing cells being 1 under a
factorized decoder (HI-VAE: Nazabal et al. 2020, "Handling incomplete heterogeneous data using
VAEs", sec. 3). Nothing is imputed in the loss.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from vaelab.distributions.base import LOG_2PI, Likelihood, full_precision
from vaelab.distributions.tokens import choose_tokens
from vaelab.registry import LIKELIHOODS, register


class Layout(NamedTuple):
    """Where each column's numbers sit in the decoder output (B, W), on one device.

    numeric : (Dn,) the numeric columns; ``numeric_at`` (Dn,) their positions in the output.
    categorical : (C,) the categorical columns; ``logit_at`` (C, Kmax) the positions of their logits,
        padded with the last one; ``valid`` (C, Kmax) which of those are real categories.
    """

    numeric: Tensor
    numeric_at: Tensor
    categorical: Tensor
    logit_at: Tensor
    valid: Tensor


@lru_cache(maxsize=32)
def layout(categories: tuple[int, ...], device: torch.device) -> Layout:
    """The :class:`Layout` of a table whose column j has ``categories[j]`` categories (0: numeric)."""
    widths = torch.tensor([k if k else 1 for k in categories])
    starts = torch.cumsum(widths, 0) - widths
    numeric = torch.tensor([j for j, k in enumerate(categories) if k == 0], dtype=torch.long)
    categorical = torch.tensor([j for j, k in enumerate(categories) if k > 0], dtype=torch.long)
    k_max = max(categories, default=0)
    steps = torch.arange(max(k_max, 1))
    sizes = torch.tensor([categories[j] for j in categorical.tolist()], dtype=torch.long)
    valid = steps[None, :] < sizes[:, None]  # (C, Kmax)
    logit_at = starts[categorical][:, None] + torch.minimum(steps[None, :], (sizes - 1)[:, None])
    parts = (numeric, starts[numeric], categorical, logit_at, valid)
    return Layout(*(t.to(device) for t in parts))


@register(LIKELIHOODS, "mixed")
class MixedTable(Likelihood):
    """Gaussian numeric columns and Categorical categorical columns, missing cells left out.

    Numeric columns work as :class:`vaelab.distributions.Gaussian` does: standardized by the
    scaler, a learned per-column scale, and ``log_prob`` in the data's own units (the Jacobian of the
    standardization included). Categorical columns are their own units (codes); their ``mean`` is
    the most likely category (the mode: an average of categories means nothing).

    Parameters
    ----------
    params : (B, W) decoder output: per column, 1 mean or K logits, in column order.
    shift, scale : (1, D) the scaler (0 and 1 for categorical columns).
    log_scale : (D,) per-column log standard deviation in standardized units (numeric ones used).
    categories : per column, its number of categories, 0 for numeric ones; empty: all numeric.

    Examples
    --------
    >>> p = MixedTable(torch.zeros(1, 4), torch.zeros(1, 2), torch.ones(1, 2), torch.zeros(2),
    ...                categories=(0, 3))
    >>> p.log_prob(torch.tensor([[0.0, 2.0]]))      # log N(0; 0, 1) + log(1/3)
    tensor([-2.0175])
    >>> p.log_prob(torch.tensor([[float("nan"), 2.0]]))  # the missing cell is left out
    tensor([-1.0986])
    """

    has_scale = True
    #: the kinds of data this likelihood takes
    data_kinds = ("table",)

    def __init__(self, params: Tensor, shift: Tensor, scale: Tensor, log_scale: Tensor | None = None,
                 categories: tuple[int, ...] = ()) -> None:
        super().__init__(shift, scale)
        if log_scale is None:
            raise ValueError("the mixed likelihood needs a log_scale tensor")
        n_columns = shift.shape[-1]
        self.categories = tuple(categories) or (0,) * n_columns
        self.layout = layout(self.categories, params.device)
        lay = self.layout
        params = full_precision(params)  # (B, W)
        self.loc = params[:, lay.numeric_at]  # (B, Dn) standardized means
        self.log_scale = log_scale[lay.numeric]
        self.logits = params[:, lay.logit_at].masked_fill(~lay.valid, float("-inf"))  # (B, C, Kmax)

    def _numeric(self, t: Tensor) -> Tensor:
        return t.reshape(-1, t.shape[-1])[:, self.layout.numeric]

    @property
    def mean(self) -> Tensor:
        """(B, D): the mean of each numeric column, the most likely category of each categorical one."""
        out = self.loc.new_empty(self.loc.shape[0], len(self.categories))
        out[:, self.layout.numeric] = self.loc * self._numeric(self.scale) + self._numeric(self.shift)
        out[:, self.layout.categorical] = self.logits.argmax(-1).to(out.dtype)
        return out

    def log_prob(self, x: Tensor) -> Tensor:
        lay = self.layout
        values = x[:, lay.numeric]
        scale = self._numeric(self.scale)
        # NaN must not enter the arithmetic even where masked: its gradient would be NaN too
        u = (values.nan_to_num(0.0) - self._numeric(self.shift)) / scale
        per_cell = -0.5 * (LOG_2PI + ((u - self.loc) / self.log_scale.exp()).square()) - self.log_scale \
            - torch.log(scale)  # the Jacobian of the standardization, per observed cell
        numeric = torch.where(torch.isnan(values), 0.0, per_cell).sum(1)
        codes = x[:, lay.categorical]
        present = ~torch.isnan(codes)
        log_p = F.log_softmax(self.logits, dim=-1)  # (B, C, Kmax)
        picked = log_p.gather(-1, torch.where(present, codes, 0.0).long().unsqueeze(-1)).squeeze(-1)
        return numeric + torch.where(present, picked, 0.0).sum(1)

    def sample(self, generator: torch.Generator | None = None) -> Tensor:
        """(B, D): a Gaussian draw per numeric column, a category drawn per categorical column."""
        eps = torch.randn(self.loc.shape, generator=generator, device=self.loc.device, dtype=self.loc.dtype)
        out = self.loc.new_empty(self.loc.shape[0], len(self.categories))
        u = self.loc + self.log_scale.exp() * eps
        out[:, self.layout.numeric] = u * self._numeric(self.scale) + self._numeric(self.shift)
        out[:, self.layout.categorical] = choose_tokens(self.logits, 1.0, generator).to(out.dtype)
        return out
