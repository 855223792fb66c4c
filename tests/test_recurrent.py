"""Token sequences: the Categorical likelihood, the rnn backbone (MusicVAE's flat decoder) and the
accompany model (a melody harmonizer)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import vaelab
from vaelab.evaluation import metrics
from vaelab.config import ModelConfig, TrainConfig
from vaelab.data import DataInfo, Dataset
from vaelab.distributions import Categorical, IndependentLogits
from vaelab.nn.recurrent import HarmonyDecoder, RNNDecoder, RNNEncoder

from helpers import image_data, table_data

K = 20  # tokens: rest, hold and 18 pitches
SATB = ("soprano", "alto", "tenor", "bass")
TINY = {"latent_dim": 3, "hidden": (16,)}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Steps of these tiny RNNs are a few small matrix products each: on a shared 2-core machine one
    thread runs them ~10x faster than two that wait for each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def seq_data(x: np.ndarray, k: int = K, y: np.ndarray | None = None,
             classes: tuple[str, ...] | None = None) -> Dataset:
    """A sequence dataset of token rows ``x`` (N, T) or (N, 4, T)."""
    shape = tuple(x.shape[1:])
    info = DataInfo("toy-seq", "test", "sequence", shape, (0, k - 1), classes=classes,
                    pitch_range=(60, 60 + k - 3), voices=SATB[:shape[0]] if len(shape) == 2 else ("melody",),
                    steps_per_quarter=4)
    return Dataset.from_arrays(info, x.astype(np.float32), y, test_fraction=0.25, seed=0)


def random_tokens(n: int, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, K, size=(n, *shape)).astype(np.float32)


def melodies(n: int, t: int, lo: int, hi: int, seed: int = 0) -> np.ndarray:
    """Random monophonic melodies (N, T): notes of 1, 2 or 4 steps with tokens lo..hi, some rests."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, t), dtype=np.float32)
    for row in out:
        step = 0
        while step < t:
            length = int(rng.choice([1, 2, 4]))
            row[step] = 0 if rng.random() < 0.1 else rng.integers(lo, hi + 1)
            row[step + 1:step + length] = 1 if row[step] else 0
            step += length
    return out


def chorales(n: int, t: int = 16, seed: int = 0) -> np.ndarray:
    """SATB (N, 4, T) under a fixed rule: alto, tenor and bass play the soprano's rhythm 3, 8 and 12
    semitones lower (holds and rests copied)."""
    s = melodies(n, t, 14, K - 1, seed)
    notes = s >= 2
    voices = [s] + [np.where(notes, s - d, s) for d in (3, 8, 12)]
    return np.stack(voices, axis=1)


def accuracy(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a == b).float().mean())


# -- the likelihood -------------------------------------------------------------------------------


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


# -- the rnn backbone -----------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(12,), (3, 12)])
@pytest.mark.parametrize("cond_dim", [0, 2])
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_backbone_shapes_and_teacher_forcing_matches_generation(shape, cond_dim, cell) -> None:
    config = ModelConfig(input_shape=shape, n_tokens=K, hidden=(16, 8), cell=cell)
    torch.manual_seed(0)
    enc, dec = RNNEncoder(config, out_dim=6, cond_dim=cond_dim), RNNDecoder(config, 4, cond_dim=cond_dim)
    x = torch.from_numpy(random_tokens(5, shape))
    c = torch.randn(5, cond_dim) if cond_dim else None
    assert enc(x, c).shape == (5, 6)
    decoding = dec(torch.randn(5, 4), c)
    assert decoding.logits(x.long()).shape == (5, *shape, K)
    gen = decoding.generate(1.0, torch.Generator().manual_seed(0))
    assert gen.tokens.shape == (5, *shape) and gen.logits.shape == (5, *shape, K)
    assert gen.tokens.min() >= 0 and gen.tokens.max() < K
    # The two paths agree: teacher forcing on the generated tokens gives the logits that generation
    # drew each step from, so log_prob is the sum of the step-by-step log-probabilities.
    assert torch.allclose(decoding.logits(gen.tokens), gen.logits, atol=1e-5)
    step_by_step = gen.logits.log_softmax(-1).gather(-1, gen.tokens[..., None]).squeeze(-1)
    log_prob = Categorical(decoding, torch.zeros(1), torch.ones(1)).log_prob(gen.tokens.float())
    assert torch.allclose(log_prob, step_by_step.reshape(5, -1).sum(1), atol=1e-4)
    # The step input depends on the previous tokens: another history gives other logits.
    assert not torch.allclose(decoding.logits(x.long()), gen.logits)


def test_greedy_and_seeded_sampling() -> None:
    net = vaelab.build_model(data=seq_data(random_tokens(40, (2, 10))), seed=0, **TINY).eval()
    z = torch.randn(6, 3, generator=torch.Generator().manual_seed(0))
    p = net.decode(z)
    greedy = p.mean
    assert greedy.shape == (6, 2, 10) and greedy.dtype == torch.float32
    assert torch.equal(p.sample(torch.Generator().manual_seed(5), temperature=0), greedy)
    assert torch.equal(p.sample(torch.Generator().manual_seed(6), temperature=0), greedy)
    a, b = (p.sample(torch.Generator().manual_seed(1)) for _ in range(2))
    assert torch.equal(a, b)
    assert not torch.equal(a, p.sample(torch.Generator().manual_seed(2)))
    assert torch.equal(a, a.round()) and a.min() >= 0 and a.max() <= K - 1
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(net.sample(4, generator=g1), net.sample(4, generator=g2))


def elbo_and_iwae(model, x: np.ndarray) -> tuple[float, float]:
    """Mean ELBO (averaged over 64 draws per row, to see past the noise of a single draw) and mean
    importance-weighted bound with k = 256 of the rows ``x``, nats per row."""
    terms = metrics.elbo(model, np.repeat(x, 64, axis=0))
    ll = metrics.log_likelihood(model, x, k=256)
    assert np.isfinite(terms.neg_elbo).all() and np.isfinite(ll).all() and (terms.kl >= 0).all()
    return float(-terms.neg_elbo.mean()), float(ll.mean())


def pattern_data() -> Dataset:
    """Two repeating 16-step patterns, 64 rows each."""
    a = [2, 1, 5, 1, 9, 1, 1, 1, 0, 0, 7, 1, 5, 1, 2, 1]
    b = [12, 1, 1, 1, 10, 0, 8, 0, 6, 1, 1, 1, 4, 1, 2, 0]
    return seq_data(np.array([a, b] * 64, dtype=np.float32))


@pytest.fixture(scope="module")
def melody_vae():
    data = pattern_data()
    model = vaelab.build_model(data=data, seed=0, latent_dim=2, hidden=(32,))
    vaelab.fit(model, data.x_train, config=TrainConfig(epochs=20, batch_size=16, lr=3e-3, val_fraction=0,
                                                       device="cpu"))
    return model, data


def test_melody_vae_learns_two_patterns(melody_vae) -> None:
    model, data = melody_vae
    assert model.config.arch == "rnn" and model.config.likelihood == "categorical"
    assert model.config.n_tokens == K and model.config.steps_per_bar == 16
    x = torch.from_numpy(data.x_test)
    assert accuracy(model.reconstruct(x), x) > 0.9
    # Prior samples are (mostly) one of the two patterns.
    s = model.sample(20, generator=torch.Generator().manual_seed(0))
    nearest = torch.cdist(s, torch.from_numpy(data.x_train[:2]), p=0).min(1).values  # mismatching steps
    assert (nearest <= 2).float().mean() > 0.7


def test_metrics_and_save_load_melody_vae(melody_vae, tmp_path) -> None:
    model, data = melody_vae
    x = data.x_test[:16]
    elbo, ll = elbo_and_iwae(model, x)
    assert ll >= elbo + 0.01  # IWAE >= ELBO (Burda et al. 2016); z carries which pattern it is
    model.save(tmp_path / "run")
    loaded = vaelab.load(tmp_path / "run")
    xt = torch.from_numpy(x)
    assert torch.equal(loaded.reconstruct(xt), model.reconstruct(xt))
    z = torch.randn(4, 2)
    assert torch.equal(loaded.decode(z).log_prob(xt[:4]), model.decode(z).log_prob(xt[:4]))
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(loaded.decode(z).sample(g1), model.decode(z).sample(g2))


@pytest.mark.parametrize(("model", "cell", "shape"), [("vae", "gru", (10,)), ("cvae", "lstm", (2, 10)),
                                                       ("ae", "gru", (2, 10)), ("accompany", "lstm", (4, 8))])
def test_gradients_reach_every_parameter(model, cell, shape) -> None:
    y = np.arange(40) % 3 if model == "cvae" else None
    data = seq_data(random_tokens(40, shape), y=y, classes=("a", "b", "c") if y is not None else None)
    net = vaelab.build_model(data=data, model=model, cell=cell, seed=0, **TINY)
    x = torch.from_numpy(data.x_train[:8])
    yb = None if y is None else torch.from_numpy(data.y_train[:8])
    net.loss(x, yb).total.backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"{name} got a zero gradient"
    net.eval()
    assert net.reconstruct(x, yb).shape == (8, *shape)


# -- the accompany model ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def harmonizer():
    data = seq_data(chorales(384))
    # No free bits: the rule is deterministic, so z has nothing to carry (the metrics test relies on it).
    model = vaelab.build_model(data=data, model="accompany", seed=0, latent_dim=2, hidden=(32,),
                               free_bits=0.0)
    vaelab.fit(model, data.x_train, config=TrainConfig(epochs=6, batch_size=16, lr=1e-2, val_fraction=0,
                                                       device="cpu"))
    return model, data


def test_accompany_learns_a_harmony_rule(harmonizer) -> None:
    model, data = harmonizer
    x = torch.from_numpy(data.x_test)
    out = model.harmonize(x[:, 0], n_variations=2, temperature=0.0,
                          generator=torch.Generator().manual_seed(0))
    assert out.shape == (len(x), 2, 4, 16)
    assert torch.equal(out[:, :, 0], x[:, None, 0].expand(-1, 2, -1))  # the melody, copied exactly
    assert accuracy(out[:, :, 1:], x[:, None, 1:].expand_as(out[:, :, 1:])) > 0.95
    assert accuracy(model.reconstruct(x)[:, 1:], x[:, 1:]) > 0.95
    # The same holds for a melody it has not seen, and for sampled chorales.
    new = torch.from_numpy(chorales(8, seed=7))
    s = model.sample(8, y=new[:, 0], generator=torch.Generator().manual_seed(0))
    assert torch.equal(s[:, 0], new[:, 0])
    assert accuracy(s[:, 1:], new[:, 1:]) > 0.9


def test_accompany_scores_only_the_lower_voices(harmonizer) -> None:
    model, data = harmonizer
    x = torch.from_numpy(data.x_test[:6])
    z = model.embed(x)
    p = model.decode(z)
    logits = p.logits(x)  # (B, 4, T, K)
    per_position = logits.log_softmax(-1).gather(-1, x.long()[..., None]).squeeze(-1)
    assert torch.allclose(p.log_prob(x), per_position[:, 1:].sum((1, 2)), atol=1e-4)
    assert torch.equal(logits[:, 0], torch.zeros_like(logits[:, 0]))  # voice 0 is given, not predicted
    # The soprano conditions the other voices: another melody changes their likelihood.
    other = x.clone()
    other[:, 0] = x[[1, 2, 3, 4, 5, 0], 0]
    assert not torch.allclose(p.log_prob(other), p.log_prob(x))
    # Generation's step logits agree with teacher forcing on what was generated.
    gen = model.decoder(z, x[:, 0]).generate(1.0, torch.Generator().manual_seed(0))
    assert torch.allclose(model.decode(z).logits(gen.tokens.float()), gen.logits, atol=1e-5)


def test_accompany_metrics_and_save_load(harmonizer, tmp_path) -> None:
    model, data = harmonizer
    x = data.x_test[:12]
    elbo, ll = elbo_and_iwae(model, x)
    # The rule is deterministic, so z carries almost nothing and the bounds nearly meet.
    assert elbo - 1e-3 <= ll <= elbo + 0.01
    assert ll > -1.0  # nats for 3 x 16 tokens: the harmony is nearly certain given the melody
    model.save(tmp_path / "run")
    loaded = vaelab.load(tmp_path / "run")
    assert type(loaded) is vaelab.models.Accompany
    melody = torch.from_numpy(x[:, 0])
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    assert torch.equal(loaded.harmonize(melody, 3, generator=g1), model.harmonize(melody, 3, generator=g2))


def test_accompany_needs_a_melody_and_four_voices(harmonizer) -> None:
    model, _ = harmonizer
    with pytest.raises(ValueError, match=r"pass y=melody, soprano tokens of shape \(B, T\)"):
        model.sample(3)
    with pytest.raises(ValueError, match=r"the melody has shape \(3, 12\); allowed: \(3, 16\)"):
        model.sample(3, y=torch.zeros(3, 12))
    with pytest.raises(ValueError, match="not token ids; allowed: integers 0 to 19"):
        model.harmonize(torch.full((2, 16), 20.0))
    with pytest.raises(ValueError, match="n_variations=0 is not allowed"):
        model.harmonize(torch.zeros(2, 16), n_variations=0)
    with pytest.raises(ValueError, match=r"needs four-voice chorales .* got input shape \(16,\)"):
        vaelab.build_model(data=seq_data(random_tokens(20, (16,))), model="accompany", **TINY)
    with pytest.raises(ValueError, match="model='accompany' takes sequence data, not image data"):
        vaelab.build_model(data=image_data(), model="accompany", **TINY)
    with pytest.raises(ValueError, match="the harmony decoder needs four voices"):
        HarmonyDecoder(ModelConfig(input_shape=(4, 16), n_tokens=K, hidden=(8,)), 2)


# -- what build_model rejects ---------------------------------------------------------------------


def test_build_model_rejects_what_tokens_cannot_take() -> None:
    seq = seq_data(random_tokens(20, (16,)))
    cases = [
        (dict(likelihood="categorical"), image_data(),
         "likelihood='categorical' takes sequence data, not image data; for image data choose from: "
         "bernoulli, gaussian"),
        (dict(likelihood="categorical"), table_data(), "takes sequence data, not table data"),
        (dict(arch="rnn"), table_data(), "arch='rnn' takes sequence data, not table data"),
        (dict(likelihood="gaussian"), seq,
         "likelihood='gaussian' takes image or table data, not sequence data; for sequence data choose "
         "from: categorical"),
        (dict(arch="mlp"), seq, "arch='mlp' takes image or table data, not sequence data; for sequence "
                                "data choose from: rnn"),
        (dict(arch="conv"), seq, "arch='conv' takes image or table data"),
        (dict(noise="mask:0.2"), seq, "noise='mask:0.2' is not allowed for sequence data"),
        (dict(model="dae"), seq, "noise='gaussian:0.3' is not allowed for sequence data"),
        (dict(binarize="dynamic"), seq, "binarize='dynamic' is not allowed for sequence data"),
    ]
    for overrides, data, message in cases:
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
            vaelab.build_model(data=data, **TINY, **overrides)
    bad = seq_data(random_tokens(20, (16,)) + 0.5)
    with pytest.raises(ValueError, match="sequence data must hold token ids, integers from 0 to 19"):
        vaelab.build_model(data=bad, **TINY)
    with pytest.raises(ValueError, match=r"arch='rnn' needs token sequences of shape \(T,\) or \(V, T\)"):
        RNNEncoder(ModelConfig(input_shape=(1, 8, 8), hidden=(8,)), out_dim=2)


def test_ae_on_tokens_reconstructs_and_cannot_sample() -> None:
    data = seq_data(random_tokens(20, (16,)))
    net = vaelab.build_model(data=data, model="ae", seed=0, **TINY).eval()
    x = torch.from_numpy(data.x_test)
    assert net.reconstruct(x).shape == x.shape
    assert np.isfinite(metrics.reconstruction_error(net, x)).all()
    with pytest.raises(ValueError, match="AE has no prior"):
        net.sample(2)
