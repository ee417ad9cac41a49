"""Part IV (模型压缩与优化): pruning, quantization, mixed precision, distillation and deployment, measured.

Read top to bottom: the running example (a small CNN on scikit-learn's digits) and its training loop
come first, then one block per section of the article: 4.1.1 pruning, 4.1.2 quantization, 4.2.1 mixed
precision (the ``amp`` switch of :func:`fit`), 4.2.2 distillation and 4.3 deployment (saving, ONNX and
the table of variants). The transformer case, MiniLM from Part I.1, reuses the same quantization helpers.

Two honest rules run through the module: a size is what ``torch.save`` (or the exporter) writes to disk,
and a latency is a median over repeats at a fixed thread count, because one timing on a shared machine
says little.
"""

from __future__ import annotations

import copy
import io
import logging
import statistics
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import prune

from .data import digits_split
from .runtime import num_threads, progress
from .validation import (
    require_callable,
    require_choice,
    require_float,
    require_int,
    require_non_empty,
    require_positive_float,
    require_positive_int,
    require_type,
)

#: The hyper-parameters of the running example, in one place (CleanRL style).
CHANNELS = (32, 64)     # output channels of the two 3x3 convolutions of the teacher CNN
HIDDEN = 128            # width of its hidden fully connected layer
EPOCHS = 12             # training epochs of the teacher (about 2 CPU seconds on one core)
LR = 3e-3               # Adam learning rate for every model of the chapter
BATCH_SIZE = 64

#: Layer types whose ``weight`` the pruning helpers know how to prune.
PRUNABLE_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
#: Quantized engines PyTorch knows; which of them this build supports is ``supported_engines``.
QUANT_ENGINES = ("x86", "fbgemm", "qnnpack", "onednn")
#: Int8 weights can be at most this many times smaller than fp32 ones (32 bits / 8 bits).
INT8_LIMIT = 4.0


# ==================================================================================================
# The running example: a small CNN on scikit-learn's handwritten digits
# ==================================================================================================
class Digits(NamedTuple):
    """The digits split as tensors: images ``(n, 1, 8, 8)`` in [0, 1], integer labels."""

    x_train: torch.Tensor
    x_test: torch.Tensor
    y_train: torch.Tensor
    y_test: torch.Tensor


def digits_tensors(seed: int = 0) -> Digits:
    """scikit-learn's digits (1,347 train / 450 test, stratified) as torch tensors."""
    x_train, x_test, y_train, y_test = digits_split(seed=seed)
    return Digits(torch.from_numpy(x_train), torch.from_numpy(x_test),
                  torch.from_numpy(y_train).long(), torch.from_numpy(y_test).long())


class DigitsCNN(nn.Module):
    """conv-ReLU, conv-ReLU, 2x2 max-pool, fc-ReLU, fc: small enough to train in seconds on a CPU.

    Every operation is a named module (``relu1``, ``pool``...) rather than a functional call, because
    eager-mode quantization fuses and swaps *modules* by name. ``features`` returns the last
    convolutional map, which attention-map distillation compares between teacher and student.
    """

    def __init__(self, channels: tuple[int, int] = CHANNELS, hidden: int = HIDDEN) -> None:
        super().__init__()
        require_type("channels", channels, tuple)
        if len(channels) != 2:
            raise ValueError(f"channels must be a pair (conv1, conv2), got {channels!r}")
        c1 = require_positive_int("channels[0]", channels[0])
        c2 = require_positive_int("channels[1]", channels[1])
        hidden = require_positive_int("hidden", hidden)
        self.conv1, self.relu1 = nn.Conv2d(1, c1, 3, padding=1), nn.ReLU()
        self.conv2, self.relu2 = nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.fc1, self.relu3 = nn.Linear(c2 * 16, hidden), nn.ReLU()
        self.fc2 = nn.Linear(hidden, 10)
        # Optimiser steps these weights have had. A buffer, so it travels with copies and checkpoints:
        # it lets static_quantize refuse random weights, whose int8 accuracy would measure nothing.
        self.register_buffer("steps_trained", torch.zeros((), dtype=torch.long))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu2(self.conv2(self.relu1(self.conv1(x))))

    def head(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.relu3(self.fc1(torch.flatten(self.pool(features), 1))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


#: Conv/Linear + ReLU pairs that eager quantization fuses into one int8 kernel.
FUSE_GROUPS = [["conv1", "relu1"], ["conv2", "relu2"], ["fc1", "relu3"]]


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (pruning masks and quantized buffers are not parameters)."""
    require_type("model", model, nn.Module)
    return sum(p.numel() for p in model.parameters())


def _check_examples(x: Any, y: Any) -> None:
    """Inputs ``x`` and labels ``y`` must be tensors with one row per example, or rows would mispair."""
    require_type("x", x, torch.Tensor)
    require_type("y", y, torch.Tensor)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"x and y must be non-empty and of equal length, got {len(x)} and {len(y)}")


def digits_loader(x: torch.Tensor, y: torch.Tensor, *, batch_size: int = BATCH_SIZE, seed: int = 0,
                  shuffle: bool = True) -> torch.utils.data.DataLoader:
    """A real ``DataLoader`` over tensors, its shuffling seeded so a run repeats exactly."""
    _check_examples(x, y)
    batch_size = require_positive_int("batch_size", batch_size)
    seed = require_int("seed", seed, minimum=0)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch_size,
                                       shuffle=shuffle, generator=torch.Generator().manual_seed(seed))


#: Autocast dtype per device type: bfloat16 on CPU (same exponent range as fp32, so no loss scaling);
#: float16 on CUDA, whose narrow range makes small gradients underflow unless a GradScaler scales them.
AMP_DTYPES = {"cpu": torch.bfloat16, "cuda": torch.float16}


def _parameter_device(model: nn.Module) -> torch.device:
    """Where ``model``'s weights (hence its inputs) live; a model without parameters has no such place."""
    parameter = next(model.parameters(), None)
    if parameter is None:
        raise ValueError(f"model ({type(model).__name__}) has no parameters to train or measure")
    return parameter.device


def _autocast_dtype(device: torch.device, amp: bool) -> torch.dtype:
    """The autocast dtype for ``device`` (:data:`AMP_DTYPES`); ``amp`` on a device without one is an error."""
    dtype = AMP_DTYPES.get(device.type)
    if amp and dtype is None:
        raise ValueError(f"amp is supported on {sorted(AMP_DTYPES)}, not on {device.type!r}")
    return dtype or torch.bfloat16


def _count_step(model: nn.Module) -> None:
    """Advance a :class:`DigitsCNN`'s ``steps_trained`` (other models carry no counter)."""
    counter = getattr(model, "steps_trained", None)
    if isinstance(counter, torch.Tensor):
        counter += 1


def fit(model: nn.Module, loader: torch.utils.data.DataLoader, *, epochs: int, lr: float = LR,
        amp: bool = False, device: torch.device | None = None, desc: str | None = None) -> list[float]:
    """Train a classifier with Adam and cross-entropy; return the mean loss of each epoch.

    ``amp=True`` is the device-agnostic mixed precision of section 4.2.1: ``torch.autocast`` with the
    device's dtype from :data:`AMP_DTYPES`, and a ``GradScaler`` that is only *enabled* for float16,
    so the same loop runs on a CPU and on a GPU. Pruning masks stay in force: ``torch.nn.utils.prune``
    recomputes ``weight = weight_orig * weight_mask`` before every forward pass. The model is left
    in eval mode, ready to be measured.
    """
    require_type("model", model, nn.Module)
    require_type("loader", loader, torch.utils.data.DataLoader)
    epochs = require_positive_int("epochs", epochs)
    lr = require_positive_float("lr", lr)
    require_type("amp", amp, bool)
    device = device or _parameter_device(model)
    require_type("device", device, torch.device)
    dtype = _autocast_dtype(device, amp)
    scaler = torch.amp.GradScaler(device.type, enabled=amp and dtype == torch.float16)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    model.train()
    for _ in progress(range(epochs), desc=desc) if desc else range(epochs):
        total, count = 0.0, 0
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=dtype, enabled=amp):
                loss = F.cross_entropy(model(xb), yb)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            _count_step(model)
            total, count = total + loss.item() * len(xb), count + len(xb)
        history.append(total / count)
    model.eval()
    return history


@torch.no_grad()
def accuracy(model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> float:
    """Top-1 accuracy of a model (any callable returning logits, e.g. an exported program)."""
    require_callable("model", model)
    _check_examples(x, y)
    return float((model(x).argmax(1) == y).float().mean())


def train_teacher(data: Digits, *, epochs: int = EPOCHS, seed: int = 0) -> DigitsCNN:
    """The chapter's reference fp32 model: :class:`DigitsCNN` trained on the digits, in eval mode."""
    require_type("data", data, Digits)
    epochs = require_positive_int("epochs", epochs)  # before manual_seed: a refused call leaves the RNG alone
    torch.manual_seed(require_int("seed", seed, minimum=0))
    model = DigitsCNN()
    fit(model, digits_loader(data.x_train, data.y_train, seed=seed), epochs=epochs, desc="teacher")
    return model.eval()


# ==================================================================================================
# Measuring: bytes on disk, latency, sparsity
# ==================================================================================================
def state_dict_bytes(model: nn.Module) -> int:
    """Bytes that ``torch.save(model.state_dict())`` writes: the honest size of a checkpoint."""
    require_type("model", model, nn.Module)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.tell()


def median_latency_ms(fn: Callable[[], Any], *, repeats: int = 21, warmup: int = 3, threads: int = 1) -> float:
    """Median wall time of ``fn()`` in milliseconds, at a fixed number of intra-op threads.

    The median (not the mean or the minimum) because other processes on a shared machine add rare,
    large delays; ``warmup`` calls first so one-off costs (allocations, weight packing) are not timed.
    """
    require_callable("fn", fn)
    repeats = require_positive_int("repeats", repeats)
    warmup = require_int("warmup", warmup, minimum=0)
    times = []
    with num_threads(threads), torch.no_grad():
        for i in range(warmup + repeats):
            start = time.perf_counter()
            fn()
            if i >= warmup:
                times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)


def _check_layer_types(layer_types: Any) -> tuple[type, ...]:
    require_type("layer_types", layer_types, tuple)
    require_non_empty("layer_types", layer_types)
    for i, kind in enumerate(layer_types):
        if kind not in PRUNABLE_TYPES:
            known = ", ".join(f"nn.{k.__name__}" for k in PRUNABLE_TYPES)
            raise ValueError(f"layer_types[{i}] = {kind!r} is not a layer type this book prunes ({known})")
    return layer_types


def prunable_layers(model: nn.Module, layer_types: tuple[type, ...] = PRUNABLE_TYPES) -> list[tuple[str, nn.Module]]:
    """``(name, module)`` of every layer of ``layer_types`` in ``model``; an error if there is none."""
    require_type("model", model, nn.Module)
    layer_types = _check_layer_types(layer_types)
    layers = [(name, m) for name, m in model.named_modules() if isinstance(m, layer_types)]
    if not layers:
        raise ValueError(f"model ({type(model).__name__}) has no layer of types "
                         f"{[k.__name__ for k in layer_types]} to prune")
    return layers


def sparsity(model: nn.Module, layer_types: tuple[type, ...] = PRUNABLE_TYPES) -> float:
    """Fraction of exact zeros in the *effective* weights (after masks) of the prunable layers."""
    weights = [m.weight.detach() for _, m in prunable_layers(model, layer_types)]
    total = sum(w.numel() for w in weights)
    if total == 0:
        raise ValueError(f"model ({type(model).__name__}) has only empty weights in its prunable layers")
    return sum(int((w == 0).sum()) for w in weights) / total


def _check_amount(amount: Any, name: str = "amount") -> float:
    """A pruning fraction in [0, 1): pruning every weight would leave no model."""
    return require_float(name, amount, low=0.0, high=1.0, high_inclusive=False)


# ==================================================================================================
# 4.1.1 Pruning
# ==================================================================================================
def magnitude_mask(weight: torch.Tensor, amount: float) -> torch.Tensor:
    """0/1 mask that removes the ``round(amount * numel)`` smallest-magnitude entries of ``weight``.

    The article's version asked ``torch.kthvalue`` for the ``int(numel * rate)``-th value, which is
    ``k = 0`` (a crash) for small layers or ``rate = 0``, and kept ``weight > threshold``, which removes
    *every* tied entry. Selecting exactly ``k`` indices with ``topk`` has neither problem, and rounds
    the count the way ``torch.nn.utils.prune`` does, so the two agree entry for entry.
    """
    require_type("weight", weight, torch.Tensor)
    amount = _check_amount(amount)
    k = round(amount * weight.numel())
    mask = torch.ones_like(weight)
    if k:
        smallest = torch.topk(weight.detach().abs().flatten(), k, largest=False).indices
        mask.view(-1)[smallest] = 0
    return mask


def unstructured_pruning(model: nn.Module, prune_rate: float = 0.2,
                         layer_types: tuple[type, ...] = PRUNABLE_TYPES) -> nn.Module:
    """The article's function, fixed: prune ``prune_rate`` of each layer's weights by magnitude.

    The mask is attached with ``prune.custom_from_mask`` instead of multiplied into ``weight.data``, so
    it is re-applied on every forward pass and an optimiser step cannot bring pruned weights back.
    Modifies ``model`` in place and returns it, as the original did.
    """
    prune_rate = require_float("prune_rate", prune_rate, low=0.0, high=1.0, high_inclusive=False)
    for _, module in prunable_layers(model, layer_types):
        prune.custom_from_mask(module, "weight", magnitude_mask(module.weight, prune_rate))
    return model


def global_magnitude_pruning(model: nn.Module, amount: float,
                             layer_types: tuple[type, ...] = PRUNABLE_TYPES) -> nn.Module:
    """Prune the ``amount`` smallest weights *across* all prunable layers (``prune.global_unstructured``).

    One global threshold lets layers with many redundant weights (here ``fc1``) lose more than small,
    dense ones (``conv1``), which a per-layer rate cannot do. In place; returns ``model``.
    """
    amount = _check_amount(amount)
    parameters = [(module, "weight") for _, module in prunable_layers(model, layer_types)]
    prune.global_unstructured(parameters, pruning_method=prune.L1Unstructured, amount=amount)
    return model


def make_pruning_permanent(model: nn.Module) -> nn.Module:
    """``prune.remove`` on every pruned tensor: fold masks into plain ``weight``/``bias`` parameters.

    Do this only when training is over: afterwards nothing keeps the zeros at zero.
    """
    require_type("model", model, nn.Module)
    for module in model.modules():
        for name in ("weight", "bias"):
            if prune.is_pruned(module) and hasattr(module, f"{name}_mask"):
                prune.remove(module, name)
    return model


def sparsity_sweep(model: nn.Module, data: Digits, amounts: Sequence[float], *, finetune_epochs: int = 2,
                   seed: int = 0) -> list[dict[str, float]]:
    """Accuracy after global magnitude pruning at each amount, before and after masked fine-tuning.

    Each amount starts from a fresh copy of ``model``; fine-tuning keeps the masks, so the sparsity
    reported after it is still the requested one.
    """
    require_type("model", model, nn.Module)
    require_type("data", data, Digits)
    require_type("amounts", amounts, (list, tuple))
    require_non_empty("amounts", amounts)
    amounts = [_check_amount(a, f"amounts[{i}]") for i, a in enumerate(amounts)]
    finetune_epochs = require_positive_int("finetune_epochs", finetune_epochs)
    seed = require_int("seed", seed, minimum=0)  # here, not after the first amount was pruned and scored
    rows = []
    for amount in progress(amounts, desc="sparsity"):
        pruned = global_magnitude_pruning(copy.deepcopy(model), amount).eval()
        row = {"amount": amount, "accuracy_pruned": accuracy(pruned, data.x_test, data.y_test)}
        torch.manual_seed(seed)
        fit(pruned, digits_loader(data.x_train, data.y_train, seed=seed), epochs=finetune_epochs)
        row.update(sparsity=sparsity(pruned), accuracy_finetuned=accuracy(pruned, data.x_test, data.y_test))
        rows.append(row)
    return rows


#: Layers whose output channels/units structured pruning removes (``fc2`` must keep its 10 classes).
STRUCTURED_LAYERS = ("conv1", "conv2", "fc1")


def structured_pruning(model: DigitsCNN, amount: float) -> DigitsCNN:
    """Zero whole output channels (conv) or units (fc) with the smallest L2 norm (``prune.ln_structured``).

    A copy is returned. The bias of each removed channel is masked too: otherwise the "removed" channel
    still outputs ``relu(bias)``, a constant the next layer depends on, and deleting it would change
    the network's answers.
    """
    require_type("model", model, DigitsCNN)
    amount = _check_amount(amount)
    pruned = copy.deepcopy(model)
    for name in STRUCTURED_LAYERS:
        layer = getattr(pruned, name)
        prune.ln_structured(layer, "weight", amount=amount, n=2, dim=0)
        kept = layer.weight_mask.flatten(1).any(1)
        prune.custom_from_mask(layer, "bias", kept.to(layer.bias.dtype))
    return pruned


def _kept(layer: nn.Module) -> torch.Tensor:
    mask = getattr(layer, "weight_mask", None)
    if mask is None:
        return torch.arange(layer.weight.shape[0])
    return mask.flatten(1).any(1).nonzero().flatten()


def shrink(model: DigitsCNN) -> DigitsCNN:
    """Rebuild a structurally pruned :class:`DigitsCNN` as a smaller dense one with the same answers.

    Zeroed channels still cost memory and multiply-adds; only new, narrower layers save them. Each
    kept output channel of one layer keeps its matching input slice of the next; for ``fc1`` the
    input is the flattened ``(channels, 4, 4)`` map, so channel ``c`` owns inputs ``16c ... 16c+15``.
    """
    require_type("model", model, DigitsCNN)
    k1, k2, k3 = (_kept(getattr(model, name)) for name in STRUCTURED_LAYERS)
    if min(len(k1), len(k2), len(k3)) == 0:
        raise ValueError("structured pruning removed every channel of a layer; use a smaller amount")
    small = DigitsCNN(channels=(len(k1), len(k2)), hidden=len(k3))
    fc1_in = model.fc1.weight.detach().view(model.fc1.out_features, -1, 16)[k3][:, k2].flatten(1)
    with torch.no_grad():
        small.conv1.weight.copy_(model.conv1.weight[k1])
        small.conv1.bias.copy_(model.conv1.bias[k1])
        small.conv2.weight.copy_(model.conv2.weight[k2][:, k1])
        small.conv2.bias.copy_(model.conv2.bias[k2])
        small.fc1.weight.copy_(fc1_in)
        small.fc1.bias.copy_(model.fc1.bias[k3])
        small.fc2.weight.copy_(model.fc2.weight[:, k3])
        small.fc2.bias.copy_(model.fc2.bias)
        small.steps_trained.copy_(model.steps_trained)
    return small.eval()


def dense_and_sparse_bytes(model: nn.Module, layer_types: tuple[type, ...] = PRUNABLE_TYPES) -> dict[str, int]:
    """Bytes of the prunable weights stored dense, as CSR sparse tensors, and dense but zlib-compressed.

    Why: unstructured zeros inside a dense tensor occupy exactly as many bytes as any other number.
    Only a sparse format (which pays for an index per kept value) or a compressor shrinks them.
    """
    import zlib

    dense = csr = packed = 0
    for name, module in prunable_layers(model, layer_types):
        weight = module.weight.detach().reshape(module.weight.shape[0], -1)
        if weight.device.type != "cpu" or weight.dtype not in (torch.float16, torch.float32, torch.float64):
            raise ValueError(f"model must hold CPU float16/32/64 weights to be measured (numpy reads them); "
                             f"{name}.weight is {weight.dtype} on {weight.device}: pass model.cpu().float()")
        with warnings.catch_warnings():  # "sparse CSR support is in beta": true, and beside the point here
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta", category=UserWarning)
            sparse = weight.to_sparse_csr()
        dense += weight.numel() * weight.element_size()
        csr += sum(t.numel() * t.element_size() for t in (sparse.values(), sparse.col_indices(), sparse.crow_indices()))
        packed += len(zlib.compress(weight.numpy().tobytes(), 6))
    return {"dense": dense, "csr": csr, "zlib": packed}


# ==================================================================================================
# 4.1.2 Quantization
# ==================================================================================================
@contextmanager
def quiet_ao_deprecations() -> Iterator[None]:
    """Hide the deprecation notices ``torch.ao.quantization`` repeats on every call.

    The chapter shows them once and explains them (eager quantization moved to ``torchao``); after that
    they would only bury the numbers. Nothing else is filtered.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"torch\.ao\.quantization is deprecated", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=r"torch\.quantize_per_tensor, torch\.quantize_per_channel",
                                category=UserWarning)
        # torch's own default x86 qconfig still passes reduce_range to its observers
        warnings.filterwarnings("ignore", message="Please use quant_min and quant_max", category=UserWarning)
        yield


def _require_eval(model: nn.Module) -> None:
    require_type("model", model, nn.Module)
    if model.training:
        raise ValueError("model is in training mode; call model.eval() before quantizing (dropout and "
                         "batch-norm must be frozen, and observers must see inference behaviour)")


def _is_quantized(module: nn.Module) -> bool:
    return type(module).__module__.startswith("torch.ao.nn.quantized")


def module_type_counts(model: nn.Module) -> dict[str, int]:
    """How many layers of each class a model holds, e.g. to see ``Linear`` become ``DynamicQuantizedLinear``.

    Counts leaf modules; a quantized module counts as one layer (its packed-weight helper is not listed).
    """
    require_type("model", model, nn.Module)
    counts: Counter[str] = Counter()

    def visit(module: nn.Module) -> None:
        children = list(module.children())
        if not children or _is_quantized(module):
            counts[module._get_name()] += 1  # the name its repr shows, e.g. DynamicQuantizedLinear
        else:
            for child in children:
                visit(child)

    visit(model)
    return dict(sorted(counts.items()))


def quantize_dynamic_int8(model: nn.Module, *, embeddings: bool = False, per_channel: bool = False) -> nn.Module:
    """Dynamic int8 quantization of every ``nn.Linear`` (and, optionally, ``nn.Embedding``) in a copy.

    Linear weights become int8 once; activations are quantized on the fly, per batch, so no calibration
    is needed. Embedding tables get 8-bit rows with one float scale and offset each
    (``float_qparams_weight_only_qconfig``), the only int8 scheme PyTorch offers for lookups.

    ``quantize_dynamic`` swaps *child* modules, so a bare ``nn.Linear`` passed as the root comes back
    unquantized (the article's example); it is wrapped in a ``Sequential`` first, and a model in which
    nothing was quantized is an error rather than a silent float copy.
    """
    _require_eval(model)
    require_type("embeddings", embeddings, bool)
    require_type("per_channel", per_channel, bool)
    from torch.ao import quantization as tq

    root = nn.Sequential(model) if isinstance(model, nn.Linear) else model
    spec: dict[type, Any] = {nn.Linear: tq.per_channel_dynamic_qconfig if per_channel else tq.default_dynamic_qconfig}
    if embeddings:
        spec[nn.Embedding] = tq.float_qparams_weight_only_qconfig
    with quiet_ao_deprecations():
        quantized = tq.quantize_dynamic(copy.deepcopy(root), spec, dtype=torch.qint8)
    if not any(_is_quantized(m) for m in quantized.modules()):
        raise ValueError(f"model ({type(model).__name__}) has no nn.Linear or nn.Embedding child to quantize")
    return quantized


def _prepare_static(model: DigitsCNN, backend: str) -> nn.Module:
    """Fuse conv/linear+ReLU, wrap in Quant/DeQuant stubs, attach the backend's observers."""
    from torch.ao import quantization as tq

    _require_eval(model)
    require_type("model", model, DigitsCNN)
    require_choice("backend", backend, [e for e in QUANT_ENGINES if e in torch.backends.quantized.supported_engines])
    torch.backends.quantized.engine = backend
    fused = tq.fuse_modules(copy.deepcopy(model), FUSE_GROUPS)
    wrapped = tq.QuantWrapper(fused).eval()
    wrapped.qconfig = tq.get_default_qconfig(backend)
    with quiet_ao_deprecations():
        return tq.prepare(wrapped)


def uncalibrated_observers(prepared: nn.Module) -> list[str]:
    """Names of observers in a prepared model that have seen no data (their range is still ±inf)."""
    require_type("prepared", prepared, nn.Module)
    return [name for name, m in prepared.named_modules()
            if hasattr(m, "min_val") and m.min_val.numel() and not torch.isfinite(m.min_val).all()]


def static_quantize(model: DigitsCNN, calibration: Iterable[torch.Tensor], *, backend: str = "x86") -> nn.Module:
    """Eager post-training static int8 quantization, done right, of a copy of ``model``.

    ``eval()`` and a trained model are required (``steps_trained > 0``: quantizing random weights, as the
    article's deployment example does, gives an accuracy that means nothing); conv/linear+ReLU pairs are fused; Quant/DeQuant stubs mark where tensors
    enter and leave int8; observers record activation ranges on the ``calibration`` batches (real
    inputs, never random ones); ``convert`` then swaps in int8 kernels. Converting without calibration
    (the article's bug) is refused: observers that saw nothing give scale 1 and zero point 0.
    ``backend`` picks the kernels: ``x86``/``fbgemm`` for x86 servers, ``qnnpack`` for ARM phones.
    """
    from torch.ao import quantization as tq

    require_type("calibration", calibration, Iterable)
    require_type("model", model, DigitsCNN)
    if int(model.steps_trained) == 0:
        raise ValueError("model has never been trained (steps_trained is 0); train it (fit, distill) or load a "
                         "trained checkpoint before quantizing")
    prepared = _prepare_static(model, backend)
    batches = 0
    with torch.no_grad():
        for batch in calibration:
            require_type(f"calibration[{batches}]", batch, torch.Tensor)
            prepared(batch)
            batches += 1
    if batches == 0 or uncalibrated_observers(prepared):
        raise ValueError("calibration must yield at least one batch of real inputs; observers "
                         f"{uncalibrated_observers(prepared)} saw none")
    with quiet_ao_deprecations():
        return tq.convert(prepared)


def quantized_skeleton(model: DigitsCNN, *, backend: str = "x86") -> nn.Module:
    """The converted int8 module structure, to ``load_state_dict`` a saved quantized checkpoint into.

    A quantized state_dict holds packed int8 weights, scales and zero points; it only fits a model that
    went through the same fuse → prepare → convert steps. The placeholder scales this produces are
    overwritten by the load, so the "observer saw no data" warning is silenced here and only here.
    """
    from torch.ao import quantization as tq

    require_type("model", model, DigitsCNN)
    prepared = _prepare_static(copy.deepcopy(model).eval(), backend)
    with quiet_ao_deprecations(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="must run observer before calling calculate_qparams")
        return tq.convert(prepared)


def save_quantized(model: nn.Module, path: str | Path) -> Path:
    """Save a converted int8 model's state_dict (packed weights, scales, zero points) to ``path``."""
    require_type("model", model, nn.Module)
    require_type("path", path, (str, Path))
    torch.save(model.state_dict(), path)
    return Path(path)


def load_quantized(path: str | Path, model: DigitsCNN, *, backend: str = "x86") -> nn.Module:
    """Load a checkpoint written by :func:`save_quantized` into :func:`quantized_skeleton` of ``model``.

    ``torch.load(weights_only=True)`` (the default since torch 2.6) unpickles tensors only, never code,
    so a downloaded checkpoint cannot run anything on load. Rebuilding quantized tensors still touches
    the deprecated ``TypedStorage`` inside torch; that one internal warning is silenced.
    """
    require_type("path", path, (str, Path))
    skeleton = quantized_skeleton(model, backend=backend)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="TypedStorage is deprecated", category=UserWarning)
        state = torch.load(path, weights_only=True)
    skeleton.load_state_dict(state)
    return skeleton.eval()


def pt2e_static_quantize(model: nn.Module, example: torch.Tensor, calibration: Iterable[torch.Tensor]):
    """The same static int8 recipe with torchao's PT2E flow, the successor of ``torch.ao`` eager mode.

    ``torch.export`` captures the graph (batch dimension dynamic), ``X86InductorQuantizer`` annotates
    it, ``prepare_pt2e`` inserts observers, calibration runs real batches, ``convert_pt2e`` folds them
    into quantize/dequantize nodes around int8 weights. Returns that (reference) graph module; it is
    fast only after lowering, e.g. ``torch.compile`` or ``lower_pt2e_quantized_to_x86``.
    """
    _require_eval(model)
    require_type("example", example, torch.Tensor)
    with warnings.catch_warnings():  # torchao's import decorates a helper with the deprecated torch.jit
        warnings.filterwarnings("ignore", message="`torch.jit.script_method` is deprecated", category=DeprecationWarning)
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
        from torchao.quantization.pt2e.quantizer import x86_inductor_quantizer as xiq

    batch = torch.export.Dim("batch", min=1)
    graph = torch.export.export(copy.deepcopy(model), (example,), dynamic_shapes=({0: batch},)).module()
    quantizer = xiq.X86InductorQuantizer().set_global(xiq.get_default_x86_inductor_quantization_config())
    prepared = prepare_pt2e(graph, quantizer)
    seen = 0
    with torch.no_grad():
        for x in calibration:
            prepared(x)
            seen += 1
    if seen == 0:
        raise ValueError("calibration must yield at least one batch of real inputs")
    return convert_pt2e(prepared)


# ==================================================================================================
# 4.2.1 Mixed precision: what autocast changes in memory
# ==================================================================================================
def saved_activation_bytes(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, amp: bool) -> int:
    """Bytes of the tensors autograd keeps for the backward pass of one batch (the activation memory).

    Counted with ``saved_tensors_hooks``, so it is a measurement, not an estimate: under bf16 autocast
    the matmul/conv inputs are saved in 2 bytes instead of 4, while fp32 master weights stay as they are.
    """
    require_type("model", model, nn.Module)
    _check_examples(x, y)
    require_type("amp", amp, bool)
    device = _parameter_device(model)
    dtype = _autocast_dtype(device, amp)
    total = 0

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        nonlocal total
        total += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        with torch.autocast(device.type, dtype=dtype, enabled=amp):
            loss = F.cross_entropy(model(x.to(device)), y.to(device))
    model.zero_grad(set_to_none=True)
    del loss
    return total


# ==================================================================================================
# 4.2.2 Knowledge distillation
# ==================================================================================================
def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, targets: torch.Tensor, *,
                      temperature: float = 4.0, alpha: float = 0.5) -> torch.Tensor:
    """Hinton et al.'s loss: ``alpha * CE(student, labels) + (1 - alpha) * T² * KL(p_teacher‖p_student)``.

    Both distributions are softened by the temperature ``T``; the ``T²`` keeps the soft term's gradients
    on the same scale as the hard term's when ``T`` changes. Teacher logits that still carry a gradient
    are refused: they mean the teacher was run outside ``torch.no_grad()`` and would be trained too.
    """
    require_type("student_logits", student_logits, torch.Tensor)
    require_type("teacher_logits", teacher_logits, torch.Tensor)
    require_type("targets", targets, torch.Tensor)
    temperature = require_positive_float("temperature", temperature)
    alpha = require_float("alpha", alpha, low=0.0, high=1.0)
    if student_logits.dim() != 2 or student_logits.shape != teacher_logits.shape:
        raise ValueError(f"student_logits and teacher_logits must be (batch, classes) of one shape, got "
                         f"{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}")
    if targets.shape != student_logits.shape[:1]:
        raise ValueError(f"targets must be (batch,) = {tuple(student_logits.shape[:1])}, got {tuple(targets.shape)}")
    if teacher_logits.requires_grad:
        raise ValueError("teacher_logits require grad: compute them under torch.no_grad() with the "
                         "teacher in eval mode, or the loss will back-propagate into the teacher")
    soft = F.kl_div(F.log_softmax(student_logits / temperature, dim=1),
                    F.log_softmax(teacher_logits / temperature, dim=1),
                    reduction="batchmean", log_target=True)
    return alpha * F.cross_entropy(student_logits, targets) + (1 - alpha) * temperature**2 * soft


def attention_map(features: torch.Tensor) -> torch.Tensor:
    """Zagoruyko & Komodakis' spatial attention map: channel-mean of squared activations, L2-normalised.

    ``(batch, channels, H, W)`` → ``(batch, H*W)``. Averaging over channels makes a 64-channel teacher
    map comparable with an 8-channel student map of the same spatial size.
    """
    require_type("features", features, torch.Tensor)
    if features.dim() != 4:
        raise ValueError(f"features must be (batch, channels, H, W), got shape {tuple(features.shape)}")
    return F.normalize(features.pow(2).mean(1).flatten(1), dim=1)


def attention_transfer_loss(student_features: torch.Tensor, teacher_features: torch.Tensor) -> torch.Tensor:
    """Mean squared distance between student and teacher attention maps (same spatial size required)."""
    s, t = attention_map(student_features), attention_map(teacher_features)
    if s.shape != t.shape:
        raise ValueError(f"student and teacher feature maps must share batch and H*W, got {tuple(s.shape)} "
                         f"and {tuple(t.shape)}")
    return (s - t).pow(2).sum(1).mean()


def teacher_loader(teacher: DigitsCNN, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = BATCH_SIZE,
                   seed: int = 0) -> torch.utils.data.DataLoader:
    """A ``DataLoader`` of rows ``(image, label, teacher logits, teacher feature map)``.

    The teacher runs once over ``x``, in eval mode and under ``torch.no_grad()``; its outputs travel in
    the same rows as the images, so every shuffled batch pairs each image with the teacher's answer
    *for that image*. Exact because the teacher is frozen and the images are not augmented (with
    random augmentation, pass :func:`distill` a plain ``(x, y)`` loader and it runs the teacher per
    batch). Saves the teacher's forward pass on every step of a sweep over many students.
    """
    require_type("teacher", teacher, DigitsCNN)
    _check_examples(x, y)
    teacher.eval()
    with torch.no_grad():
        features = teacher.features(x)
        logits = teacher.head(features)
    rows = torch.utils.data.TensorDataset(x, y, logits, features)
    return torch.utils.data.DataLoader(rows, batch_size=require_positive_int("batch_size", batch_size), shuffle=True,
                                       generator=torch.Generator().manual_seed(require_int("seed", seed, minimum=0)))


def distill(student: DigitsCNN, teacher: DigitsCNN, loader: torch.utils.data.DataLoader, *, epochs: int,
            temperature: float = 4.0, alpha: float = 0.5, beta: float = 0.0, lr: float = LR) -> list[float]:
    """Train ``student`` on ``alpha·CE + (1−alpha)·T²·KL`` (+ ``beta`` × attention transfer); return epoch losses.

    ``loader`` yields ``(x, y)`` batches, and the teacher is run on *the same batch* in eval mode under
    ``torch.no_grad()``, or it yields the rows of :func:`teacher_loader`, which carry the teacher's
    outputs already. Either way the teacher is put in eval mode, its outputs carry no graph, and only the
    student's parameters are in the optimiser: nothing flows back into the teacher.
    ``alpha = 1, beta = 0`` is plain training, the from-scratch control.
    """
    require_type("student", student, DigitsCNN)
    require_type("teacher", teacher, DigitsCNN)
    require_type("loader", loader, torch.utils.data.DataLoader)
    epochs = require_positive_int("epochs", epochs)
    require_positive_float("temperature", temperature)
    beta = require_float("beta", beta, low=0.0)
    teacher.eval()
    optimizer = torch.optim.Adam(student.parameters(), lr=require_positive_float("lr", lr))
    history = []
    student.train()
    for _ in range(epochs):
        total, count = 0.0, 0
        for batch in loader:
            if len(batch) == 4:
                xb, yb, logits_t, features_t = batch
            else:
                xb, yb = batch
                with torch.no_grad():
                    features_t = teacher.features(xb)
                    logits_t = teacher.head(features_t)
            features = student.features(xb)
            loss = distillation_loss(student.head(features), logits_t, yb, temperature=temperature, alpha=alpha)
            if beta:
                loss = loss + beta * attention_transfer_loss(features, features_t)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            _count_step(student)
            total, count = total + loss.item() * len(xb), count + len(xb)
        history.append(total / count)
    student.eval()
    return history


# ==================================================================================================
# 4.3 Deployment: files on disk, ONNX Runtime, the variants table
# ==================================================================================================
#: Loggers of the ONNX exporter that report optional torchvision ops it skips (irrelevant here).
ONNX_NOISY_LOGGERS = ("torch.onnx._internal.exporter._registration",)


def export_onnx(model: nn.Module, example: torch.Tensor, path: str | Path) -> Path:
    """Export an eval-mode model to one self-contained ``.onnx`` file with a dynamic batch dimension.

    Uses the ``torch.export``-based exporter (``dynamo=True`` is the default in torch 2.13); its notes
    about optional torchvision ops and an internal pytree deprecation are silenced, nothing else.
    """
    _require_eval(model)
    require_type("example", example, torch.Tensor)
    require_type("path", path, (str, Path))
    path = Path(path)
    loggers = [logging.getLogger(name) for name in ONNX_NOISY_LOGGERS]
    levels = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
                                    category=FutureWarning)
            torch.onnx.export(model, (example,), str(path), input_names=["x"], output_names=["logits"],
                              dynamic_shapes=({0: torch.export.Dim("batch", min=1)},), external_data=False,
                              verbose=False)
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
    return path


def onnx_session(path: str | Path, *, threads: int = 1):
    """An ONNX Runtime CPU session pinned to ``threads`` intra-op threads (and one inter-op thread)."""
    import onnxruntime as ort

    require_type("path", path, (str, Path))
    options = ort.SessionOptions()
    options.intra_op_num_threads = require_positive_int("threads", threads)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_predict(session, x: torch.Tensor) -> torch.Tensor:
    """Logits from an ONNX Runtime session for a torch batch (so :func:`accuracy` can score it)."""
    require_type("x", x, torch.Tensor)
    return torch.from_numpy(session.run(None, {session.get_inputs()[0].name: x.numpy()})[0])


def onnx_static_quantize(path: str | Path, out: str | Path, calibration: Iterable[torch.Tensor]) -> Path:
    """ONNX Runtime's static int8 quantization (QDQ format, per-channel weights) calibrated on real batches."""
    require_type("path", path, (str, Path))
    require_type("out", out, (str, Path))
    require_type("calibration", calibration, Iterable)
    feeds = []
    for i, x in enumerate(calibration):
        require_type(f"calibration[{i}]", x, torch.Tensor)
        feeds.append({"x": x.numpy()})
    require_non_empty("calibration", feeds)

    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(feeds)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.batches, None)

    out = Path(out)
    prepared = out.with_suffix(".pre.onnx")
    quant_pre_process(str(path), str(prepared))
    quantize_static(str(prepared), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8)
    prepared.unlink()
    return out


def variant_row(variant: str, *, size_bytes: int, reference_bytes: int, latency_ms: float, accuracy: float,
                float_bytes: int | None = None) -> dict[str, Any]:
    """One row of the deployment table: size, how many times smaller than the reference, latency, accuracy.

    ``x smaller`` compares the file with the reference fp32 model's. For an int8 variant pass
    ``float_bytes``, the file size of *the same architecture* in fp32: the row then also gives that
    int8-over-fp32 ratio and its share of the 4x ceiling (32-bit → 8-bit weights), which scales, zero
    points, fp32 biases and container overhead keep every real file below. Variants that remove
    parameters instead of bits (pruning, a student) are not bound by it; their int8 columns stay empty.
    """
    require_type("variant", variant, str)
    size_bytes = require_positive_int("size_bytes", size_bytes)
    reference_bytes = require_positive_int("reference_bytes", reference_bytes)
    int8_ratio = float("nan")
    if float_bytes is not None:
        int8_ratio = require_positive_int("float_bytes", float_bytes) / size_bytes
    return {
        "variant": variant,
        "size (KB)": size_bytes / 1024,
        "x smaller than fp32": reference_bytes / size_bytes,
        "int8 vs own fp32": int8_ratio,
        "share of 4x int8 limit": int8_ratio / INT8_LIMIT,
        "latency (ms)": require_positive_float("latency_ms", latency_ms),
        "accuracy": require_float("accuracy", accuracy, low=0.0, high=1.0),
    }
