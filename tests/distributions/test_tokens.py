"""vaelab.distributions.tokens: the Categorical likelihood of token sequences and its scored positions."""

from __future__ import annotations

import pytest
import torch
from helpers import accuracy

from vaelab.distributions import Categorical, IndependentLogits

pytestmark = pytest.mark.usefixtures("one_thread")


def test_categorical_log_prob_matches_torch_and_greedy_is_argmax() -> None:
    torch.manual_seed(0)
    logits = torch.randn(3, 2, 7, 5)  # (B, V, T, K)
    x = torch.randint(0, 5, (3, 2, 7)).float()
    p = Categorical(logits, torch.zeros(1), torch.ones(1))
    expected = torch.distributions.Categorical(logits=logits).log_prob(x.long()).sum((1, 2))
    assert torch.allclose(p.log_prob(x), expected, atol=1e-5)
    assert torch.equal(p.mean, logits.argmax(-1).float())
    assert torch.equal(p.sample(torch.Generator().manual_seed(1), temperature=0.0), p.mean)
    draws = torch.stack([p.sample(torch.Generator().manual_seed(i)) for i in range(400)])
    # Frequencies of the draws follow softmax(logits) (here at one position), and low temperatures
    # concentrate them on the mode.
    freq = torch.stack([(draws[:, 0, 0, 0] == k).float().mean() for k in range(5)])
    assert torch.allclose(freq, logits[0, 0, 0].softmax(-1), atol=0.08)
    cold = torch.stack([p.sample(torch.Generator().manual_seed(i), temperature=0.1) for i in range(400)])
    assert accuracy(cold, p.mean.expand_as(cold)) > accuracy(draws, p.mean.expand_as(draws)) + 0.3
    with pytest.raises(ValueError, match="temperature=-1.0 is not allowed; give a finite number >= 0"):
        p.sample(temperature=-1.0)


def test_scored_positions_limit_log_prob() -> None:
    logits = torch.randn(2, 4, 6, 5)
    x = torch.randint(0, 5, (2, 4, 6)).float()
    decoding = IndependentLogits(logits)
    decoding.scored = torch.tensor([False, True, True, True])[:, None]
    p = Categorical(decoding, torch.zeros(1), torch.ones(1))
    expected = torch.distributions.Categorical(logits=logits[:, 1:]).log_prob(x[:, 1:].long()).sum((1, 2))
    assert torch.allclose(p.log_prob(x), expected, atol=1e-5)
