"""vaelab.precision: which precisions a device takes, and the training step with its gradient scaler."""

from __future__ import annotations

import pytest
import torch

import vaelab
from vaelab import precision, training
from vaelab.config import ModelConfig, TrainConfig
from vaelab.run import RunDir

TINY = ModelConfig(latent_dim=4, hidden=(32,), channels=8)


def test_fp16_needs_cuda_and_bf16_on_cuda_needs_support() -> None:
    cfg = TrainConfig(precision="fp16")
    model = vaelab.build_model(TINY, vaelab.load_dataset("digits"))
    optimizer = training.make_optimizer(model, cfg, torch.device("cpu"))
    with pytest.raises(ValueError, match=r"^precision='fp16' needs a CUDA GPU \(the device is cpu\); "
                                         r"use bf16 or fp32$"):
        precision.TrainStep(model, optimizer, cfg, torch.device("cpu"))
    precision.check_precision("bf16", torch.device("cpu"))  # every CPU can (fast with avx512_bf16/amx)
    precision.check_precision("fp32", torch.device("cpu"))


def scaled_steps(digits, scaler_state: dict | None, steps: range) -> tuple[precision.TrainStep, list]:
    """A TrainStep with an enabled CPU GradScaler (growth every 3 steps) run over ``steps`` batches
    of 32, from the scaler state ``scaler_state`` (None: fresh); returns it and its weights."""
    cfg = TrainConfig(batch_size=32, grad_clip=10.0)
    torch.manual_seed(0)
    model = vaelab.build_model(TINY, digits, seed=0)
    optimizer = training.make_optimizer(model, cfg, torch.device("cpu"))
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 10, growth_interval=3)
    step = precision.TrainStep(model, optimizer, cfg, torch.device("cpu"), scaler=scaler)
    if scaler_state is not None:
        step.load_state_dict(scaler_state)
    x = torch.from_numpy(digits.x_train)
    for i in steps:
        step(x[i * 32:(i + 1) * 32], None, 1.0)
    return step, [p.detach().clone() for p in model.parameters()]


def test_grad_scaler_state_round_trips_through_the_trainer_state(digits, tmp_path) -> None:
    step, _ = scaled_steps(digits, None, range(5))
    state = step.state_dict()
    assert state["scale"] == 2.0 ** 11 and state["_growth_tracker"] == 2  # grew once, 2 steps since
    # through trainer_state.pt (weights_only loading) and into a fresh step
    (tmp_path / "t.pt").write_bytes(RunDir.trainer_state_bytes({"scaler": state}))
    loaded = torch.load(tmp_path / "t.pt", weights_only=True)["scaler"]
    again, _ = scaled_steps(digits, loaded, range(0))
    assert again.state_dict() == state
    assert scaled_steps(digits, None, range(0))[0].state_dict()["scale"] == 2.0 ** 10  # not by default
    # fp32 and bf16 have a disabled scaler: empty state, and an fp16 state is ignored, not an error
    plain = precision.TrainStep(vaelab.build_model(TINY, digits), torch.optim.SGD([torch.zeros(1)]),
                               TrainConfig(precision="bf16"), torch.device("cpu"))
    assert plain.state_dict() == {}
    plain.load_state_dict(state)
    assert plain.state_dict() == {} and not plain.scaler.is_enabled()
    step.load_state_dict({})  # a run from fp32 resumed in fp16 starts a fresh scale
    assert step.state_dict() == state


def test_bf16_on_a_cuda_gpu_without_bf16_is_refused(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a, **k: "Tesla T4")
    with pytest.raises(ValueError, match=r"^precision='bf16' needs a GPU with bfloat16 support, and Tesla T4 "
                                         r"has none; use fp16 or fp32$"):
        precision.check_precision("bf16", torch.device("cuda"))
    precision.check_precision("fp16", torch.device("cuda"))  # what such a GPU can do
