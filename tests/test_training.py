"""vaelab.training: fit learns, resumes where it stopped, stops early and fails safely."""

from __future__ import annotations

import math

import pytest
import torch
from safetensors.torch import load_file

import vaelab
from vaelab import precision, training
from vaelab.config import ModelConfig, TrainConfig
from vaelab.run import RunDir

TINY = ModelConfig(latent_dim=4, hidden=(32,), channels=8)


def test_loss_falls_on_digits_within_a_few_epochs(digits) -> None:
    torch.manual_seed(0)
    model = vaelab.build_model(TINY, digits)
    before = training.mean_losses(model, torch.from_numpy(digits.x_test))["loss"]
    result = vaelab.fit(model, digits.x_train, config=TrainConfig(epochs=5, batch_size=64))
    losses = [r["val_loss"] for r in result.history]
    after = training.mean_losses(model, torch.from_numpy(digits.x_test))["loss"]
    assert len(losses) == 5 and losses[-1] < 0.8 * losses[0]
    assert after < 0.8 * before
    assert result.history[-1]["train_kl"] > 0.1  # the code carries information
    assert all(r["samples_per_s"] > 0 for r in result.history)


def test_resumed_run_ends_where_an_uninterrupted_one_does(digits, tmp_path) -> None:
    x = digits.x_train[:400]
    cfg = TrainConfig(epochs=4, batch_size=64, seed=3, kl_warmup=2)
    torch.manual_seed(0)
    whole = vaelab.build_model(TINY, digits)
    vaelab.fit(whole, x, config=cfg, run_dir=tmp_path / "whole")

    torch.manual_seed(0)
    part = vaelab.build_model(TINY, digits)
    vaelab.fit(part, x, config=cfg.replace(epochs=2), run_dir=tmp_path / "part")
    resumed = vaelab.load(tmp_path / "part")
    result = vaelab.fit(resumed, x, config=cfg, run_dir=tmp_path / "part", resume=True)

    assert [r["epoch"] for r in result.history] == [1, 2, 3, 4]
    a = load_file(str(tmp_path / "whole" / "model.safetensors"))
    b = load_file(str(tmp_path / "part" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    m1, m2 = RunDir(tmp_path / "whole").read_metrics(), RunDir(tmp_path / "part").read_metrics()
    assert [r["train_loss"] for r in m1] == [r["train_loss"] for r in m2]


def test_resume_refuses_other_data(digits, tmp_path) -> None:
    model = vaelab.build_model(TINY, digits)
    vaelab.fit(model, digits.x_train[:200], config=TrainConfig(epochs=1), run_dir=tmp_path)
    with pytest.raises(ValueError, match="the data differ from the data this run was trained on"):
        vaelab.fit(model, digits.x_train[:300], config=TrainConfig(epochs=2), run_dir=tmp_path,
                   resume=True)


def test_non_finite_loss_stops_and_keeps_the_last_good_epoch(digits, tmp_path, monkeypatch) -> None:
    model = vaelab.build_model(TINY, digits)
    x = digits.x_train[:256]  # 4 steps per epoch at batch 64
    calls = {"n": 0}
    real_loss = model.loss

    def loss(xb, yb=None, kl_weight=1.0):
        out = real_loss(xb, yb, kl_weight)
        calls["n"] += model.training
        if model.training and calls["n"] == 7:  # epoch 2, step 3
            return vaelab.Losses(out.total * float("nan"), out.rec, out.kl)
        return out

    monkeypatch.setattr(model, "loss", loss)
    with pytest.raises(vaelab.NonFiniteLossError, match="epoch 2, step 3 of 4.*epoch 1 in"):
        vaelab.fit(model, x, config=TrainConfig(epochs=3, batch_size=64), run_dir=tmp_path)
    assert [r["epoch"] for r in RunDir(tmp_path).read_metrics()] == [1]
    assert RunDir(tmp_path).load_trainer_state()["epoch"] == 1
    good = vaelab.load(tmp_path)
    assert all(torch.isfinite(p).all() for p in good.parameters())


def test_early_stopping_keeps_the_best_epoch(digits, monkeypatch) -> None:
    vals = iter([5.0, 3.0, 4.0, 4.5, 6.0, 7.0])
    snapshots = []

    def fake_mean_losses(model, x, y=None, batch_size=1024, seed=0):
        snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
        return {"loss": next(vals), "rec": 0.0, "kl": 0.0}

    monkeypatch.setattr(training, "mean_losses", fake_mean_losses)
    model = vaelab.build_model(TINY, digits)
    result = vaelab.fit(model, digits.x_train[:200], config=TrainConfig(epochs=6, patience=2))
    assert result.stopped_early and len(result.history) == 4 and result.best_epoch == 2
    best = snapshots[1]
    assert all(torch.equal(v, best[k]) for k, v in model.state_dict().items())


def test_fit_rejects_wrong_shapes_and_devices(digits) -> None:
    model = vaelab.build_model(TINY, digits)
    with pytest.raises(ValueError, match=r"data rows have shape \(64,\), the model expects \(1, 8, 8\)"):
        vaelab.fit(model, digits.x_train.reshape(-1, 64))
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device='cuda' is not available on this machine"):
            vaelab.resolve_device("cuda")
    with pytest.raises(ValueError, match="leaves no training or no validation rows"):
        vaelab.fit(model, digits.x_train[:1], config=TrainConfig(epochs=1, val_fraction=0.5))


def test_resume_can_lower_the_learning_rate(digits, tmp_path) -> None:
    model = vaelab.build_model(TINY, digits, seed=0)
    x = digits.x_train[:200]
    vaelab.fit(model, x, config=TrainConfig(epochs=1, lr=1e-3), run_dir=tmp_path)
    resumed = vaelab.load(tmp_path)
    vaelab.fit(resumed, x, config=TrainConfig(epochs=2, lr=1e-4), run_dir=tmp_path, resume=True)
    state = RunDir(tmp_path).load_trainer_state()
    assert state["epoch"] == 2
    assert [g["lr"] for g in state["optimizer"]["param_groups"]] == [1e-4]


def test_build_model_seed_fixes_the_initial_weights(digits) -> None:
    a = vaelab.build_model(TINY, digits, seed=5)
    rng = torch.get_rng_state()
    b = vaelab.build_model(TINY, digits, seed=5)
    assert torch.equal(rng, torch.get_rng_state())  # the global stream is untouched
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    c = vaelab.build_model(TINY, digits, seed=6)
    assert not torch.equal(next(a.parameters()), next(c.parameters()))


# -- precision -----------------------------------------------------------------------------------


def test_bf16_autocast_trains_and_evaluates_to_finite_numbers(digits) -> None:
    torch.manual_seed(0)
    model = vaelab.build_model(TINY.replace(arch="conv"), digits)
    cfg = TrainConfig(epochs=2, batch_size=64, precision="bf16", device="cpu")
    result = vaelab.fit(model, digits.x_train, config=cfg)
    losses = [r["train_loss"] for r in result.history]
    assert all(math.isfinite(v) for r in result.history for v in (r["train_loss"], r["val_loss"]))
    assert losses[1] < losses[0]  # it learns
    ev = vaelab.evaluate(model, digits, iwae_k=0)
    assert math.isfinite(ev.neg_elbo) and ev.neg_elbo > 0
    assert all(p.dtype == torch.float32 for p in model.parameters())  # autocast leaves the weights alone


def test_fit_in_fp16_without_cuda_is_refused_before_any_epoch(digits, tmp_path) -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA is available")
    model = vaelab.build_model(TINY, digits)
    with pytest.raises(ValueError, match="needs a CUDA GPU"):
        vaelab.fit(model, digits.x_train, config=TrainConfig(epochs=1, precision="fp16"),
                   run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_resume_restores_the_grad_scaler(digits, tmp_path, monkeypatch) -> None:
    def with_scaler(model, optimizer, config, device, loss):  # what fp16 on CUDA does, on the CPU
        return precision.TrainStep(model, optimizer, config, device, loss=loss,
                                  scaler=torch.amp.GradScaler("cpu", init_scale=2.0 ** 10, growth_interval=2))

    monkeypatch.setattr(training, "_step_function", with_scaler)
    x = digits.x_train[:200]
    cfg = TrainConfig(epochs=3, batch_size=64, seed=1)
    vaelab.fit(vaelab.build_model(TINY, digits, seed=0), x, config=cfg, run_dir=tmp_path / "whole")
    vaelab.fit(vaelab.build_model(TINY, digits, seed=0), x, config=cfg.replace(epochs=1),
               run_dir=tmp_path / "part")
    after_one = RunDir(tmp_path / "part").load_trainer_state()["scaler"]
    assert after_one == {**after_one, "scale": 2.0 ** 11, "_growth_tracker": 1}  # 3 steps: grew once, 1 since
    vaelab.fit(vaelab.load(tmp_path / "part"), x, config=cfg, run_dir=tmp_path / "part", resume=True)
    whole, part = (RunDir(tmp_path / name).load_trainer_state() for name in ("whole", "part"))
    assert whole["scaler"] == part["scaler"] and whole["scaler"]["scale"] == 2.0 ** 14  # 9 steps
    assert all(torch.equal(whole["model"][k], part["model"][k]) for k in whole["model"])


def test_resume_may_change_the_precision(digits, tmp_path) -> None:
    x = digits.x_train[:200]
    vaelab.fit(vaelab.build_model(TINY, digits, seed=0), x, config=TrainConfig(epochs=1), run_dir=tmp_path)
    resumed = vaelab.load(tmp_path)
    result = vaelab.fit(resumed, x, config=TrainConfig(epochs=2, precision="bf16"), run_dir=tmp_path,
                        resume=True)
    assert math.isfinite(result.history[-1]["train_loss"])
    assert RunDir(tmp_path).read_config().train.precision == "bf16"
