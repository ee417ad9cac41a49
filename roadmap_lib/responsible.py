"""Part V (负责任的AI与可持续发展): explanations, fairness and energy, measured on real models and data.

The article's two examples are wrong in ways that mislead: its feature importance differentiates a loss
against a *random* target and leaves gradients and ``requires_grad`` behind on the caller's tensors; its
equal-opportunity difference looks only at the first two groups, crashes on one group and scores a
group without positives as TPR 0. This module holds the corrected versions the chapter teaches, each
checked against its library twin in ``tests/test_responsible.py`` (Captum, scikit-learn, fairlearn).

Sections: data (Adult, COMPAS) → a PyTorch tabular classifier with an sklearn interface → 5.1.1
attributions → 5.1.2 attention and saliency → 5.2.1 group fairness metrics → 5.2.2 mitigation →
5.3 efficiency (FLOPs and energy; sizes and latencies reuse Part IV's ``compression`` helpers).
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from torch import nn
from torch.nn import functional as F

from . import data as _data
from .benchmark import Benchmark, cli
from .validation import (
    require_callable,
    require_float,
    require_int,
    require_keys,
    require_non_empty,
    require_positive_float,
    require_positive_int,
    require_seeds,
    require_type,
)

# --------------------------------------------------------------------------------------------------
# Data: UCI Adult and ProPublica COMPAS, split and encoded
# --------------------------------------------------------------------------------------------------
#: Attributes audited for fairness. They are kept *out* of the model's inputs (so the model is
#: "unaware" of them) and still the gaps remain, because other columns (relationship: "Husband"/"Wife",
#: marital status, occupation) carry the same information.
ADULT_SENSITIVE = ("sex", "race")
ADULT_NUMERIC = ("age", "education_num", "hours_per_week")
#: Heavy-tailed (mostly zero, up to 99,999): log1p before scaling, or a few rows dominate the gradient.
ADULT_SKEWED = ("capital_gain", "capital_loss")
ADULT_CATEGORICAL = ("workclass", "marital_status", "occupation", "relationship", "native_country")
#: ``fnlwgt`` is a census sampling weight, not a property of the person; ``education`` duplicates
#: ``education_num``.
ADULT_DROPPED = ("fnlwgt", "education")


@dataclass(frozen=True)
class FairnessSplit:
    """Raw features, 0/1 labels and sensitive attributes of a train/validation/test split."""

    x_train: pd.DataFrame
    x_val: pd.DataFrame
    x_test: pd.DataFrame
    y_train: np.ndarray
    y_val: np.ndarray
    y_test: np.ndarray
    s_train: pd.DataFrame
    s_val: pd.DataFrame
    s_test: pd.DataFrame


def adult_split(seed: int = 0, val_size: float = 0.2, test_size: float = 0.2) -> FairnessSplit:
    """UCI Adult as model inputs, ``income > 50K`` labels and ``(sex, race)``, split by label strata.

    Missing categories (``?`` in the raw files) become an explicit ``"missing"`` level rather than
    dropped rows: dropping them would remove a non-random 7 % of people. The validation part is where
    post-processing thresholds are chosen, so the test part stays untouched until the end.
    """
    from sklearn.model_selection import train_test_split

    seed = require_int("seed", seed, minimum=0)
    val_size = require_float("val_size", val_size, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    test_size = require_float("test_size", test_size, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    if val_size + test_size >= 1.0:
        raise ValueError(f"val_size + test_size must be < 1, got {val_size + test_size:g}")
    raw = _data.adult()
    labels = (raw["income"] == ">50K").to_numpy(dtype=np.int64)
    features = raw.drop(columns=["income", *ADULT_DROPPED, *ADULT_SENSITIVE])
    features[list(ADULT_CATEGORICAL)] = features[list(ADULT_CATEGORICAL)].fillna("missing")
    sensitive = raw[list(ADULT_SENSITIVE)]
    rows = np.arange(len(raw))
    rest, test = train_test_split(rows, test_size=test_size, random_state=seed, stratify=labels)
    train, val = train_test_split(rest, test_size=val_size / (1 - test_size), random_state=seed,
                                  stratify=labels[rest])

    def take(frame: pd.DataFrame, idx: np.ndarray) -> pd.DataFrame:
        return frame.iloc[idx].reset_index(drop=True)

    return FairnessSplit(
        take(features, train), take(features, val), take(features, test),
        labels[train], labels[val], labels[test],
        take(sensitive, train), take(sensitive, val), take(sensitive, test),
    )


def adult_preprocessor():
    """An unfitted ``ColumnTransformer``: standardised numbers, log-scaled capital columns, one-hot
    categories (unknown levels at test time are ignored, not an error). Dense float output."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    return ColumnTransformer(
        [
            ("num", StandardScaler(), list(ADULT_NUMERIC)),
            ("log", make_pipeline(FunctionTransformer(np.log1p, feature_names_out="one-to-one"),
                                  StandardScaler()), list(ADULT_SKEWED)),
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), list(ADULT_CATEGORICAL)),
        ],
        verbose_feature_names_out=False,
    )


def feature_groups(preprocessor) -> dict[str, list[int]]:
    """Map each raw column to the encoded columns it became (one for a number, one per level for a
    category), so attributions over one-hot columns can be compared with permutation importance,
    which shuffles raw columns."""
    if not hasattr(preprocessor, "output_indices_"):
        raise ValueError("preprocessor must be a fitted ColumnTransformer (call .fit first)")
    groups: dict[str, list[int]] = {}
    for name, transformer, columns in preprocessor.transformers_:
        if name == "remainder" or transformer == "drop":
            continue
        block = preprocessor.output_indices_[name]
        start = block.start
        widths = ([len(c) for c in transformer.categories_] if hasattr(transformer, "categories_")
                  else [1] * len(columns))
        for column, width in zip(columns, widths):
            groups[column] = list(range(start, start + width))
            start += width
    return groups


def compas_risk() -> pd.DataFrame:
    """ProPublica's COMPAS sample as ``y_true`` (re-arrested within two years), ``y_pred`` (COMPAS
    score "Medium" or "High", i.e. decile >= 5), ``decile_score``, ``race``, ``sex`` and ``age_cat``.

    Rows are filtered exactly as in ProPublica's analysis (Angwin et al. 2016): the COMPAS screening
    within 30 days of the arrest, a known recidivism outcome, no ordinary traffic offences
    (charge degree "O"), and a score present. 7,214 → 6,172 rows.
    """
    raw = _data.compas()
    keep = (
        raw["days_b_screening_arrest"].between(-30, 30)
        & (raw["is_recid"] != -1)
        & (raw["c_charge_degree"] != "O")
        & (raw["score_text"] != "N/A")
    )
    kept = raw.loc[keep].reset_index(drop=True)
    return pd.DataFrame({
        "y_true": kept["two_year_recid"].astype(np.int64),
        "y_pred": (kept["score_text"] != "Low").astype(np.int64),
        "decile_score": kept["decile_score"].astype(np.int64),
        "race": kept["race"].astype(str),
        "sex": kept["sex"].astype(str),
        "age_cat": kept["age_cat"].astype(str),
    })


# --------------------------------------------------------------------------------------------------
# A PyTorch tabular classifier that scikit-learn (permutation importance, pipelines) can drive
# --------------------------------------------------------------------------------------------------
def mlp(n_inputs: int, hidden: Sequence[int], n_outputs: int = 1) -> nn.Sequential:
    """ReLU multilayer perceptron ``n_inputs → hidden... → n_outputs`` (no activation at the end)."""
    widths = [require_positive_int("n_inputs", n_inputs)]
    widths += [require_positive_int(f"hidden[{i}]", h) for i, h in enumerate(hidden)]
    widths.append(require_positive_int("n_outputs", n_outputs))
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def _as_float_matrix(name: str, x: Any) -> np.ndarray:
    array = np.asarray(x, dtype=np.float32)
    if array.ndim != 2 or array.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (rows × features), got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values; impute or drop them first")
    return array


class TorchMLPClassifier(ClassifierMixin, BaseEstimator):
    """Binary MLP classifier in PyTorch with the scikit-learn estimator interface.

    Why an sklearn face on a torch model: ``sklearn.inspection.permutation_importance``, pipelines and
    fairlearn's post-processing then drive the *same* model the gradient methods differentiate.
    ``fit`` accepts ``sample_weight`` (used by reweighing). Training seeds its own RNG streams and
    leaves the global torch RNG as it found it. ``device`` defaults to the CPU even where CUDA exists:
    for a model of a few thousand weights, copying each batch to a GPU costs more than it saves, and
    the module stays where the chapter's other tools (Captum, plain ``model(x)``) expect it.
    """

    def __init__(self, hidden: tuple[int, ...] = (64, 32), epochs: int = 8, lr: float = 3e-3,
                 batch_size: int = 256, weight_decay: float = 1e-4, seed: int = 0, device: str = "cpu"):
        self.hidden = hidden
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.seed = seed
        self.device = device

    # -- training ---------------------------------------------------------------------------------
    def fit(self, X, y, sample_weight=None):
        x, target, weight = self._fit_inputs(X, y, sample_weight)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.module_ = mlp(x.shape[1], self.hidden).to(self._device())
            self._train(x, target, weight, extra=None)
        return self

    def _check_params(self) -> None:
        """The hyper-parameter checks, on their own so a study can run them before loading any data."""
        require_positive_int("epochs", self.epochs)
        require_positive_int("batch_size", self.batch_size)
        require_positive_float("lr", self.lr)
        require_float("weight_decay", self.weight_decay, low=0.0)
        require_int("seed", self.seed, minimum=0)

    def _fit_inputs(self, X, y, sample_weight):
        self._check_params()
        x = _as_float_matrix("X", X)
        target = check_binary("y", y)
        if len(target) != len(x):
            raise ValueError(f"X has {len(x)} rows but y has {len(target)}")
        if sample_weight is None:
            weight = np.ones(len(x), dtype=np.float32)
        else:
            weight = check_scores("sample_weight", sample_weight).astype(np.float32)
            if len(weight) != len(x) or (weight < 0).any() or weight.sum() <= 0:
                raise ValueError("sample_weight must be non-negative, one per row of X, not all zero")
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = x.shape[1]
        dev = self._device()
        to = lambda a: torch.as_tensor(a, device=dev)  # noqa: E731
        return to(x), to(target.astype(np.float32)), to(weight / weight.mean())

    def _device(self) -> torch.device:
        require_type("device", self.device, (str, torch.device))
        return torch.device(self.device)

    def _train(self, x: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, extra) -> None:
        optimiser = torch.optim.Adam(self.module_.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        generator = torch.Generator().manual_seed(self.seed)
        self.module_.train()
        for _ in range(self.epochs):
            order = torch.randperm(len(x), generator=generator).to(x.device)
            for start in range(0, len(x), self.batch_size):
                rows = order[start : start + self.batch_size]
                self._step(optimiser, x[rows], target[rows], weight[rows],
                           None if extra is None else extra[rows])
        optimiser.zero_grad(set_to_none=True)  # hand back a model without stale gradients
        self.module_.eval()

    def _step(self, optimiser, x, target, weight, extra) -> None:
        optimiser.zero_grad()
        logits = self.module_(x).squeeze(1)
        loss = (F.binary_cross_entropy_with_logits(logits, target, reduction="none") * weight).mean()
        loss.backward()
        optimiser.step()

    # -- inference --------------------------------------------------------------------------------
    @torch.no_grad()
    def decision_function(self, X) -> np.ndarray:
        """Logits (log-odds of the positive class), one per row."""
        if not hasattr(self, "module_"):
            raise ValueError("this classifier is not fitted yet; call fit first")
        x = torch.as_tensor(_as_float_matrix("X", X), device=next(self.module_.parameters()).device)
        if x.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {x.shape[1]} features, the model was fitted with {self.n_features_in_}")
        return self.module_(x).squeeze(1).cpu().numpy()

    def predict_proba(self, X) -> np.ndarray:
        positive = 1.0 / (1.0 + np.exp(-self.decision_function(X).astype(np.float64)))
        return np.column_stack([1.0 - positive, positive])

    def predict(self, X) -> np.ndarray:
        return (self.decision_function(X) > 0).astype(np.int64)


def debias_gradient(grad_predictor: torch.Tensor, grad_adversary: torch.Tensor, alpha: float) -> torch.Tensor:
    """Zhang et al.'s predictor update for one parameter tensor: ``g_P − (g_P·û)û − α·g_A`` with
    ``û = g_A/‖g_A‖`` and ``·`` the inner product of the *flattened* tensors.

    Removing the projection means the step never moves in a direction that helps the adversary; the
    ``− α·g_A`` term then actively hurts it. For a weight matrix the inner product must be the sum of
    elementwise products: ``torch.inner`` on two matrices is a matrix of row products, not this.
    """
    require_type("grad_predictor", grad_predictor, torch.Tensor)
    require_type("grad_adversary", grad_adversary, torch.Tensor)
    if grad_predictor.shape != grad_adversary.shape:
        raise ValueError(f"gradients must have one shape, got {tuple(grad_predictor.shape)} and {tuple(grad_adversary.shape)}")
    alpha = require_float("alpha", alpha, low=0.0)
    unit = grad_adversary / (grad_adversary.norm() + 1e-12)
    return grad_predictor - (grad_predictor * unit).sum() * unit - alpha * grad_adversary


class AdversarialDebiasingClassifier(TorchMLPClassifier):
    """Adversarial debiasing for demographic parity (Zhang, Lemoine & Mitchell 2018).

    An adversary tries to recover the sensitive group from the predictor's output alone; the predictor
    is updated with ``∇L_P − proj_{∇L_A} ∇L_P − α ∇L_A``: its own gradient, minus the part that would
    help the adversary, minus ``α`` times the adversary's gradient. The adversary follows Zhang et al.'s
    parity variant, ``â = w·σ((1+|c|)·logit) + b``. The projection is taken per parameter tensor with
    the flattened (Frobenius) inner product.
    """

    def __init__(self, hidden: tuple[int, ...] = (64, 32), epochs: int = 8, lr: float = 3e-3,
                 batch_size: int = 256, weight_decay: float = 1e-4, seed: int = 0, device: str = "cpu",
                 adversary_weight: float = 1.0, adversary_lr: float = 1e-2):
        super().__init__(hidden, epochs, lr, batch_size, weight_decay, seed, device)
        self.adversary_weight = adversary_weight
        self.adversary_lr = adversary_lr

    def fit(self, X, y, sensitive_features=None, sample_weight=None):
        require_float("adversary_weight", self.adversary_weight, low=0.0)
        require_positive_float("adversary_lr", self.adversary_lr)
        if sensitive_features is None:
            raise ValueError("sensitive_features is required: the adversary predicts it")
        x, target, weight = self._fit_inputs(X, y, sample_weight)
        groups, codes = group_codes(sensitive_features)
        if len(codes) != len(x):
            raise ValueError(f"X has {len(x)} rows but sensitive_features has {len(codes)}")
        if len(groups) != 2:
            raise ValueError(f"sensitive_features must have exactly two groups for this adversary, got {len(groups)}")
        self.groups_ = groups
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.module_ = mlp(x.shape[1], self.hidden).to(self._device())
            self.adversary_ = nn.Linear(1, 1).to(self._device())
            self.sharpness_ = nn.Parameter(torch.ones(1, device=self._device()))
            self._adv_optimiser = torch.optim.Adam([*self.adversary_.parameters(), self.sharpness_],
                                                   lr=self.adversary_lr)
            self._train(x, target, weight, extra=torch.as_tensor(codes, dtype=torch.float32, device=x.device))
        del self._adv_optimiser
        return self

    def adversary_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """The adversary's guess (a logit for group 1) from the predictor's logits."""
        return self.adversary_(torch.sigmoid((1 + self.sharpness_.abs()) * logits).unsqueeze(1)).squeeze(1)

    def _step(self, optimiser, x, target, weight, group) -> None:
        params = list(self.module_.parameters())
        logits = self.module_(x).squeeze(1)
        loss_p = (F.binary_cross_entropy_with_logits(logits, target, reduction="none") * weight).mean()
        loss_a = F.binary_cross_entropy_with_logits(self.adversary_logits(logits), group)
        grad_p = torch.autograd.grad(loss_p, params, retain_graph=True)
        grad_a = torch.autograd.grad(loss_a, params, retain_graph=True)
        for p, gp, ga in zip(params, grad_p, grad_a):
            p.grad = debias_gradient(gp, ga, self.adversary_weight)
        optimiser.step()
        # The adversary learns on the same batch, from the predictor's output held fixed.
        self._adv_optimiser.zero_grad()
        F.binary_cross_entropy_with_logits(self.adversary_logits(logits.detach()), group).backward()
        self._adv_optimiser.step()


# --------------------------------------------------------------------------------------------------
# 5.1.1 Feature importance: gradients, gradient × input, integrated gradients, permutation
# --------------------------------------------------------------------------------------------------
def _check_model_input(model: nn.Module, inputs: torch.Tensor, name: str = "inputs") -> None:
    """``name`` is the caller's word for the batch (``images`` for saliency maps), so errors use it."""
    require_type("model", model, nn.Module)
    require_type(name, inputs, torch.Tensor)
    if not inputs.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {inputs.dtype}")
    if inputs.dim() < 2 or inputs.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty batch (rows first), got shape {tuple(inputs.shape)}")
    if not torch.isfinite(inputs).all():
        raise ValueError(f"{name} contains NaN or infinite values")


def _select_output(output: torch.Tensor, target: int | torch.Tensor | None) -> torch.Tensor:
    """One scalar per row: the single logit of a binary model, or the ``target`` class's logit."""
    if output.dim() == 1:
        return output
    if output.dim() == 2 and output.shape[1] == 1 and target is None:
        return output[:, 0]
    if target is None:
        raise ValueError(f"the model has {output.shape[1]} outputs: pass target (a class index per row or one int)")
    if isinstance(target, int):
        target = require_int("target", target, minimum=0, maximum=output.shape[1] - 1)
        return output[:, target]
    require_type("target", target, (int, torch.Tensor))
    if target.shape != output.shape[:1]:
        raise ValueError(f"target must hold one class index per row ({output.shape[0]}), got shape {tuple(target.shape)}")
    if ((target < 0) | (target >= output.shape[1])).any():
        raise ValueError(f"target must hold class indices in [0, {output.shape[1] - 1}], "
                         f"got values from {target.min().item()} to {target.max().item()}")
    return output.gather(1, target.long().view(-1, 1).to(output.device)).squeeze(1)


def input_gradients(model: nn.Module, inputs: torch.Tensor, target: int | torch.Tensor | None = None) -> torch.Tensor:
    """∂(model output)/∂(input), one row per input row, with no side effects.

    The fixes to the article's function, one per line below: differentiate the *output* (a loss
    against a random target measures that target, not the model); work on a detached clone (the
    caller's tensor keeps ``requires_grad=False`` and no ``.grad``); ``torch.autograd.grad`` returns
    the gradient instead of accumulating into ``.grad`` (nothing to zero, no parameter gradients left
    behind); evaluation mode for the pass and the caller's mode restored after it. Summing the outputs
    before differentiating is exact because, in eval mode, row ``i``'s output depends on row ``i`` only.
    """
    _check_model_input(model, inputs)
    device = next(model.parameters(), torch.empty(0)).device
    x = inputs.detach().clone().to(device).requires_grad_(True)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            output = _select_output(model(x), target)
            (grad,) = torch.autograd.grad(output.sum(), x)
    finally:
        model.train(was_training)
    return grad.detach().to(inputs.device)


def feature_importance(model: nn.Module, inputs: torch.Tensor, target: int | torch.Tensor | None = None) -> np.ndarray:
    """The article's ``feature_importance``, fixed: mean absolute gradient of the output per feature."""
    grad = input_gradients(model, inputs, target)
    return grad.abs().mean(dim=0).cpu().numpy()


def _baseline_like(inputs: torch.Tensor, baseline: torch.Tensor | None) -> torch.Tensor:
    if baseline is None:
        return torch.zeros_like(inputs)
    require_type("baseline", baseline, torch.Tensor)
    if baseline.shape not in (inputs.shape, inputs.shape[1:]):
        raise ValueError(f"baseline must have shape {tuple(inputs.shape[1:])} or {tuple(inputs.shape)}, "
                         f"got {tuple(baseline.shape)}")
    return baseline.to(inputs.dtype).expand_as(inputs)


def gradient_times_input(model: nn.Module, inputs: torch.Tensor, baseline: torch.Tensor | None = None,
                         target: int | torch.Tensor | None = None) -> torch.Tensor:
    """Gradient × (input − baseline): the first-order share of each feature in ``f(x) − f(baseline)``
    (exact for a linear model). Baseline zero by default."""
    _check_model_input(model, inputs)
    return input_gradients(model, inputs, target) * (inputs - _baseline_like(inputs, baseline))


def integrated_gradients(model: nn.Module, inputs: torch.Tensor, baseline: torch.Tensor | None = None,
                         target: int | torch.Tensor | None = None, n_steps: int = 50) -> torch.Tensor:
    """Integrated gradients (Sundararajan et al. 2017): ``(x − x') ∫₀¹ ∂f(x' + α(x − x'))/∂x dα``.

    The integral uses ``n_steps``-point Gauss–Legendre quadrature mapped to [0, 1], the rule Captum's
    ``IntegratedGradients`` uses by default, so the two agree to float precision. Attributions of a
    row add up to ``f(x) − f(baseline)`` (completeness) up to the quadrature error.
    """
    _check_model_input(model, inputs)
    n_steps = require_positive_int("n_steps", n_steps)
    base = _baseline_like(inputs, baseline)
    nodes, weights = np.polynomial.legendre.leggauss(n_steps)
    total = torch.zeros_like(inputs)
    for node, weight in zip((nodes + 1) / 2, weights / 2):
        total += float(weight) * input_gradients(model, base + float(node) * (inputs - base), target)
    return total * (inputs - base)


def permutation_importance(estimator, X, y, *, n_repeats: int = 5, seed: int = 0) -> np.ndarray:
    """Drop in ``estimator.score(X, y)`` when one column of ``X`` is shuffled; ``(n_features, n_repeats)``.

    Written out to show there is no magic, with scikit-learn's random protocol so the numbers are
    *equal* to ``sklearn.inspection.permutation_importance(...).importances``: one seed is drawn from
    ``RandomState(seed)``, every column starts a fresh ``RandomState`` from it, and each repeat shuffles
    the already shuffled column again. Columns are permuted on a copy; ``X`` is not modified.
    """
    n_repeats = require_positive_int("n_repeats", n_repeats)
    seed = require_int("seed", seed, minimum=0)
    if not hasattr(estimator, "score"):
        raise TypeError("estimator must have a score(X, y) method (a fitted scikit-learn estimator)")
    require_type("X", X, (np.ndarray, pd.DataFrame))  # columns are shuffled by position, on a copy
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (rows × features), got shape {X.shape}")
    if np.ndim(y) == 0:
        raise TypeError(f"y must hold one label per row of X, got {type(y).__name__}")
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
    require_non_empty("X", X)
    baseline = estimator.score(X, y)
    column_seed = np.random.RandomState(seed).randint(np.iinfo(np.int32).max + 1)
    n_features = X.shape[1]
    drops = np.empty((n_features, n_repeats))
    for column in range(n_features):
        rng = np.random.RandomState(column_seed)
        shuffled = X.copy()
        order = np.arange(len(X))
        for repeat in range(n_repeats):
            rng.shuffle(order)
            if isinstance(shuffled, pd.DataFrame):
                values = shuffled.iloc[order, column].to_numpy()
                shuffled.isetitem(column, values)
            else:
                shuffled[:, column] = shuffled[order, column]
            drops[column, repeat] = baseline - estimator.score(shuffled, y)
    return drops


def group_importance(attributions: torch.Tensor | np.ndarray, groups: Mapping[str, Sequence[int]],
                     how: str = "sum") -> pd.Series:
    """Mean over rows of each raw feature's attribution, largest first.

    ``how="sum"`` adds a feature's encoded columns within a row before taking the absolute value (right
    for additive attributions such as integrated gradients: the one-hot block's total share);
    ``how="mean"`` averages the absolute values over the block (for raw gradients, which are not shares
    and do not add up: a norm or sum would grow with the number of levels).
    """
    values = attributions.detach().cpu().numpy() if isinstance(attributions, torch.Tensor) else np.asarray(attributions)
    if values.ndim != 2:
        raise ValueError(f"attributions must be (rows, encoded features), got shape {values.shape}")
    if how not in ("sum", "mean"):
        raise ValueError(f"how must be 'sum' or 'mean', got {how!r}")
    require_non_empty("groups", groups)
    result = {}
    for name, columns in groups.items():
        block = values[:, list(columns)]
        per_row = np.abs(block.sum(axis=1)) if how == "sum" else np.abs(block).mean(axis=1)
        result[name] = per_row.mean()
    return pd.Series(result, name=how).sort_values(ascending=False)


# --------------------------------------------------------------------------------------------------
# 5.1.2 Visualisation: attention maps of the MiniLM encoder, saliency maps of Part IV's digits CNN
# --------------------------------------------------------------------------------------------------
def attention_maps(text: str, tokenizer, model) -> tuple[list[str], torch.Tensor]:
    """Tokens of ``text`` and the encoder's attention weights, shape ``(layers, heads, tokens, tokens)``.

    Row ``q`` of a head's map is how query token ``q`` spreads its attention over the tokens (each row
    sums to 1). The model must be loaded with ``attn_implementation="eager"``: the fused SDPA kernel
    never materialises these weights.
    """
    require_type("text", text, str)
    if not text.strip():
        raise ValueError("text must not be empty")
    implementation = getattr(model.config, "_attn_implementation", None)
    if implementation != "eager":
        raise ValueError(f"model uses attn_implementation={implementation!r}; load it with "
                         "roadmap_lib.nlp.load_encoder(attn_implementation='eager')")
    batch = tokenizer(text, return_tensors="pt", truncation=True)
    with torch.no_grad():
        output = model(**batch, output_attentions=True)
    tokens = tokenizer.convert_ids_to_tokens(batch["input_ids"][0])
    return tokens, torch.stack([layer[0] for layer in output.attentions])


def attention_statistics(attentions: torch.Tensor, tokens: Sequence[str]) -> pd.DataFrame:
    """Per layer, averaged over heads and query tokens: where attention goes and how spread it is.

    Columns: share on ``[CLS]``, on ``[SEP]``, on the token itself, on the previous and the next token,
    and the mean entropy of a row in bits (0 = all on one token; log2(tokens) = uniform). Clark et al.
    (2019) found much of BERT's attention parked on ``[SEP]``; this table checks that on MiniLM.
    """
    require_type("attentions", attentions, torch.Tensor)
    if attentions.dim() != 4 or attentions.shape[-1] != attentions.shape[-2] or attentions.shape[-1] != len(tokens):
        raise ValueError(f"attentions must be (layers, heads, {len(tokens)}, {len(tokens)}), got {tuple(attentions.shape)}")
    a = attentions.double()
    n = a.shape[-1]
    marks = {name: [i for i, t in enumerate(tokens) if t == name] for name in ("[CLS]", "[SEP]")}
    rows = []
    for layer in a:
        entropy = -(layer * torch.log2(layer.clamp_min(1e-12))).sum(-1)
        rows.append({
            "[CLS]": layer[..., marks["[CLS]"]].sum(-1).mean().item(),
            "[SEP]": layer[..., marks["[SEP]"]].sum(-1).mean().item(),
            "self": layer.diagonal(dim1=-2, dim2=-1).mean().item(),
            "previous": layer.diagonal(offset=-1, dim1=-2, dim2=-1).sum(-1).div(n).mean().item(),
            "next": layer.diagonal(offset=1, dim1=-2, dim2=-1).sum(-1).div(n).mean().item(),
            "entropy (bits)": entropy.mean().item(),
        })
    return pd.DataFrame(rows, index=pd.RangeIndex(1, len(rows) + 1, name="layer"))


def plot_attention_grid(attentions: torch.Tensor, title: str = "Attention maps (rows: layers, columns: heads)"):
    """All heads of all layers as one mosaic of heatmaps (rows = layers, columns = heads); returns the
    figure. One image with thin white gaps draws in a fraction of the time of one axes per head."""
    import matplotlib.pyplot as plt

    require_type("attentions", attentions, torch.Tensor)
    if attentions.dim() != 4 or attentions.shape[-1] != attentions.shape[-2]:
        raise ValueError(f"attentions must be (layers, heads, tokens, tokens), got {tuple(attentions.shape)}")
    layers, heads, n = attentions.shape[:3]
    step = n + 1  # one blank row/column between tiles
    mosaic = np.full((layers * step - 1, heads * step - 1), np.nan)
    for i in range(layers):
        for j in range(heads):
            mosaic[i * step : i * step + n, j * step : j * step + n] = attentions[i, j].numpy()
    fig, ax = plt.subplots(figsize=(min(0.75 * heads + 1, 10), 0.75 * layers + 1))
    image = ax.imshow(mosaic, cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([j * step + n / 2 for j in range(heads)], [f"H{j + 1}" for j in range(heads)])
    ax.set_yticks([i * step + n / 2 for i in range(layers)], [f"L{i + 1}" for i in range(layers)])
    ax.tick_params(length=0)
    ax.grid(False)
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, label="attention weight", shrink=0.8)
    return fig


def plot_attention(weights: torch.Tensor, tokens: Sequence[str], ax=None, title: str | None = None):
    """One head's map with token labels: query tokens down the side, attended tokens along the top."""
    import matplotlib.pyplot as plt

    require_type("weights", weights, torch.Tensor)
    if weights.shape != (len(tokens), len(tokens)):
        raise ValueError(f"weights must be ({len(tokens)}, {len(tokens)}), got {tuple(weights.shape)}")
    if ax is None:
        _, ax = plt.subplots()
    image = ax.imshow(weights.numpy(), cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(len(tokens)), tokens, rotation=90)
    ax.set_yticks(range(len(tokens)), tokens)
    ax.set_xlabel("attended token (key)")
    ax.set_ylabel("query token")
    ax.grid(False)
    if title:
        ax.set_title(title)
    ax.figure.colorbar(image, ax=ax, label="attention weight")
    return ax


def saliency_maps(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """|∂ logit of the true class / ∂ pixel| (Simonyan et al. 2014), one map per image, ``(n, H, W)``.

    ``images`` must be ``(n, channels, H, W)``: the map is the maximum over the channel axis, so a batch
    without one would silently be reduced over its rows of pixels instead.
    """
    _check_model_input(model, images, "images")
    if images.dim() != 4:
        raise ValueError(f"images must be (n, channels, height, width), got shape {tuple(images.shape)}")
    require_type("labels", labels, torch.Tensor)
    if labels.is_floating_point() or labels.is_complex():
        raise TypeError(f"labels must hold integer class indices, got {labels.dtype}")
    if labels.shape != images.shape[:1]:
        raise ValueError(f"labels must hold one class index per image ({images.shape[0]}), "
                         f"got shape {tuple(labels.shape)}")
    return input_gradients(model, images, labels).abs().amax(dim=1)


@torch.no_grad()
def deletion_test(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, saliency: torch.Tensor,
                  ks: Sequence[int] = (2, 4, 8, 16), seed: int = 0) -> pd.DataFrame:
    """Does the saliency map point at pixels the model needs? Blank (set to 0, the background) the
    ``k`` most salient pixels of each image, or ``k`` random ones, and compare the true-class
    probability and the accuracy that remain. A map worth looking at hurts far more than chance."""
    require_type("images", images, torch.Tensor)
    if saliency.shape != (images.shape[0], *images.shape[2:]):
        raise ValueError(f"saliency must be (n, H, W) matching images, got {tuple(saliency.shape)}")
    pixels = saliency[0].numel()
    generator = torch.Generator().manual_seed(require_int("seed", seed, minimum=0))
    random_scores = torch.rand(saliency.flatten(1).shape, generator=generator)
    rows = []
    for k in ks:
        k = require_int("k", k, minimum=0, maximum=pixels)
        for name, scores in (("most salient", saliency.flatten(1)), ("random", random_scores)):
            keep = torch.ones_like(scores)
            keep.scatter_(1, scores.topk(k, dim=1).indices, 0.0)
            blanked = images * keep.view(len(images), 1, *images.shape[2:])
            probs = F.softmax(model.eval()(blanked), dim=1)
            rows.append({"pixels blanked": k, "which": name,
                         "true-class probability": probs.gather(1, labels.view(-1, 1)).mean().item(),
                         "accuracy": (probs.argmax(1) == labels).float().mean().item()})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------------
# 5.2.1 Group fairness metrics for any number of groups (and intersections of attributes)
# --------------------------------------------------------------------------------------------------
class UndefinedGroupWarning(UserWarning):
    """A group's rate is undefined (no rows, or no positives for a TPR): it is NaN, not 0."""


@dataclass(frozen=True)
class GroupGap:
    """A disparity: ``difference`` = max − min of ``by_group`` over the groups where it is defined."""

    difference: float
    by_group: pd.Series

    def __float__(self) -> float:
        return self.difference


def _as_1d(name: str, values: Any) -> np.ndarray:
    array = values.to_numpy() if isinstance(values, (pd.Series, pd.Index)) else np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} must not be empty")
    return array


def check_binary(name: str, values: Any) -> np.ndarray:
    """0/1 labels (bools accepted) as int64; NaN or any other value is a ``ValueError`` naming it."""
    array = _as_1d(name, values)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold 0/1 labels, got dtype {array.dtype}; convert with (y == positive).astype(int)")
    if array.dtype.kind == "f" and np.isnan(array).any():
        raise ValueError(f"{name} contains NaN at {int(np.isnan(array).sum())} positions")
    others = np.setdiff1d(np.unique(array), [0, 1])
    if others.size:
        raise ValueError(f"{name} must be binary (0/1); found other values {others[:5].tolist()}")
    return array.astype(np.int64)


def check_scores(name: str, values: Any) -> np.ndarray:
    """Finite real scores (probabilities, logits, weights) as float64."""
    array = _as_1d(name, values)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got dtype {array.dtype}")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values at {int((~np.isfinite(array)).sum())} positions")
    return array


def _sensitive_frame(sensitive: Any) -> pd.DataFrame:
    if isinstance(sensitive, pd.DataFrame):
        frame = sensitive.reset_index(drop=True)
    elif isinstance(sensitive, pd.Series):
        frame = sensitive.reset_index(drop=True).to_frame(sensitive.name if sensitive.name is not None
                                                          else "sensitive_feature_0")
    else:
        array = np.asarray(sensitive, dtype=object)
        if array.ndim == 1:
            array = array[:, None]
        if array.ndim != 2:
            raise ValueError(f"sensitive must be 1-D (one attribute) or 2-D (rows × attributes), got shape {array.shape}")
        frame = pd.DataFrame(array, columns=[f"sensitive_feature_{i}" for i in range(array.shape[1])])
    if frame.shape[1] == 0 or len(frame) == 0:
        raise ValueError("sensitive must not be empty")
    if frame.isna().any().any():
        raise ValueError(f"sensitive contains {int(frame.isna().sum().sum())} missing group labels; "
                         "give them an explicit group such as 'unknown'")
    return frame


def group_codes(sensitive: Any) -> tuple[pd.Index, np.ndarray]:
    """The groups (sorted; a ``MultiIndex`` of combinations for several attributes) and each row's group.

    One attribute gives its values as groups; several give their *intersections* (sex × race) that
    occur in the data. Categorical attributes contribute all their declared categories, so a declared
    but empty group shows up (with NaN rates) instead of vanishing.
    """
    frame = _sensitive_frame(sensitive)
    categorical = [isinstance(frame[c].dtype, pd.CategoricalDtype) for c in frame.columns]
    try:
        if frame.shape[1] == 1:
            column = frame.iloc[:, 0]
            groups = (pd.Index(column.cat.categories, name=frame.columns[0]) if categorical[0]
                      else pd.Index(column.unique(), name=frame.columns[0]).sort_values())
            return groups, groups.get_indexer(column)
        rows = pd.MultiIndex.from_frame(frame)
        if all(categorical):
            groups = pd.MultiIndex.from_product([frame[c].cat.categories for c in frame.columns], names=frame.columns)
        else:
            groups = rows.unique().sort_values()
        return groups, groups.get_indexer(rows)
    except TypeError as error:  # "a" next to 1 cannot be sorted, a list cannot be hashed
        raise TypeError(f"sensitive must hold hashable group labels of one type per attribute ({error})") from error


def _check_lengths(**arrays: Any) -> None:
    sizes = {name: len(a) for name, a in arrays.items() if a is not None}
    if len(set(sizes.values())) > 1:
        raise ValueError("inputs must have one entry per row; got lengths " + ", ".join(f"{k}={v}" for k, v in sizes.items()))


def _warn_undefined(message: str) -> None:
    """Issue an :class:`UndefinedGroupWarning` at the caller's line (the first frame outside this module),
    so the reader sees which of *their* calls met the undefined group."""
    level, frame = 2, sys._getframe(1)
    while frame is not None and frame.f_code.co_filename == __file__:
        frame, level = frame.f_back, level + 1
    warnings.warn(message, UndefinedGroupWarning, stacklevel=level)


def _rate(numerator: np.ndarray, denominator: np.ndarray, groups: pd.Index, name: str, why: str) -> pd.Series:
    """Per-group ratio; NaN and an :class:`UndefinedGroupWarning` where the denominator is zero."""
    with np.errstate(divide="ignore", invalid="ignore"):
        values = np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan)
    series = pd.Series(values, index=groups, name=name)
    undefined = [g for g, d in zip(groups, denominator) if d == 0]
    if undefined:
        _warn_undefined(f"{name} is undefined (NaN) for {len(undefined)} group(s) with {why}: {undefined[:5]}")
    return series


def _prepare(sensitive: Any, **arrays: Any) -> tuple[pd.Index, np.ndarray]:
    frame = _sensitive_frame(sensitive)
    _check_lengths(sensitive=frame, **arrays)
    return group_codes(frame)


def _counts(codes: np.ndarray, groups: pd.Index, weights: np.ndarray | None = None) -> np.ndarray:
    return np.bincount(codes, weights=weights, minlength=len(groups))


def _gap(by_group: pd.Series) -> GroupGap:
    if len(by_group) < 2:
        raise ValueError(f"sensitive has a single group ({by_group.index[0]!r}); a difference between "
                         "groups needs at least two")
    defined = by_group.dropna()
    if len(defined) < 2:
        _warn_undefined(f"{by_group.name} is defined for fewer than two groups; the difference is NaN")
        return GroupGap(float("nan"), by_group)
    return GroupGap(float(defined.max() - defined.min()), by_group)


def true_positive_rates(y_true: Any, y_pred: Any, sensitive: Any) -> pd.Series:
    """TPR = P(ŷ=1 | y=1, group) per group; NaN (with a warning) for a group with no positives."""
    truth, pred = check_binary("y_true", y_true), check_binary("y_pred", y_pred)
    groups, codes = _prepare(sensitive, y_true=truth, y_pred=pred)
    return _rate(_counts(codes, groups, truth * pred), _counts(codes, groups, truth), groups,
                 "true_positive_rate", "no positive examples")


def selection_rates(y_pred: Any, sensitive: Any) -> pd.Series:
    """P(ŷ=1 | group) per group; NaN (with a warning) for an empty group."""
    pred = check_binary("y_pred", y_pred)
    groups, codes = _prepare(sensitive, y_pred=pred)
    return _rate(_counts(codes, groups, pred), _counts(codes, groups), groups, "selection_rate", "no rows")


def average_predictions(y_score: Any, sensitive: Any) -> pd.Series:
    """Mean prediction (a score or probability) per group; NaN (with a warning) for an empty group."""
    score = check_scores("y_score", y_score)
    groups, codes = _prepare(sensitive, y_score=score)
    return _rate(_counts(codes, groups, score), _counts(codes, groups), groups, "average_prediction", "no rows")


def equal_opportunity_difference(y_true: Any, y_pred: Any, sensitive: Any) -> GroupGap:
    """Largest minus smallest TPR over *all* groups (Hardt et al. 2016). Groups without positives are
    NaN and left out with a warning; a single group is a ``ValueError``."""
    return _gap(true_positive_rates(y_true, y_pred, sensitive))


def demographic_parity_difference(y_pred: Any, sensitive: Any) -> GroupGap:
    """Largest minus smallest selection rate over all groups."""
    return _gap(selection_rates(y_pred, sensitive))


def average_prediction_difference(y_score: Any, sensitive: Any) -> GroupGap:
    """Largest minus smallest mean prediction over all groups (the article's 平均预测差异). On 0/1
    predictions it equals the demographic parity difference; on scores it also sees how far apart
    the groups' scores are below the threshold."""
    return _gap(average_predictions(y_score, sensitive))


def group_table(y_true: Any, y_pred: Any, sensitive: Any, y_score: Any = None) -> pd.DataFrame:
    """One row per group: size, positives, base rate (share of y=1), selection rate, TPR, FPR (the rate
    ProPublica compared for COMPAS) and, given ``y_score``, the mean score. Undefined rates are NaN,
    with one :class:`UndefinedGroupWarning` per kind."""
    truth, pred = check_binary("y_true", y_true), check_binary("y_pred", y_pred)
    score = None if y_score is None else check_scores("y_score", y_score)
    groups, codes = _prepare(sensitive, y_true=truth, y_pred=pred, y_score=score)
    count = _counts(codes, groups)
    positives = _counts(codes, groups, truth)
    table = pd.DataFrame({"count": count.astype(np.int64), "positives": positives.astype(np.int64)}, index=groups)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table["base_rate"] = _rate(positives, count, groups, "base_rate", "no rows")
        table["selection_rate"] = _rate(_counts(codes, groups, pred), count, groups, "selection_rate", "no rows")
        table["true_positive_rate"] = _rate(_counts(codes, groups, truth * pred), positives, groups,
                                            "true_positive_rate", "no positive examples")
        table["false_positive_rate"] = _rate(_counts(codes, groups, (1 - truth) * pred), count - positives,
                                             groups, "false_positive_rate", "no negative examples")
        if score is not None:
            table["average_prediction"] = _rate(_counts(codes, groups, score), count, groups,
                                                "average_prediction", "no rows")
    for message in dict.fromkeys(str(w.message) for w in caught):
        _warn_undefined(message)
    return table


# --------------------------------------------------------------------------------------------------
# 5.2.2 Mitigation: reweighing (pre-), adversarial debiasing (in-, above), group thresholds (post-)
# --------------------------------------------------------------------------------------------------
def reweighing_weights(y: Any, sensitive: Any) -> np.ndarray:
    """Kamiran & Calders (2012) reweighing: ``w(g, y) = P(g)·P(y) / P(g, y)``.

    Under these weights label and group are statistically independent in the training data (each
    group has the overall base rate), so a learner has no reason to use group membership to predict
    the label. Weights average to 1. A (group, label) cell without rows needs no weight.
    """
    labels = check_binary("y", y)
    groups, codes = _prepare(sensitive, y=labels)
    cell = codes * 2 + labels
    cell_count = np.bincount(cell, minlength=2 * len(groups)).astype(np.float64)
    group_share = np.bincount(codes, minlength=len(groups)) / len(labels)
    label_share = np.bincount(labels, minlength=2) / len(labels)
    expected = group_share[codes] * label_share[labels] * len(labels)
    return expected / cell_count[cell]


def group_thresholds(y_score: Any, sensitive: Any, selection_rate: float) -> pd.Series:
    """Per-group score thresholds that select the same share ``selection_rate`` of every group.

    The simplest post-processing for demographic parity: the ``1 − rate`` quantile of each group's
    scores. Choose them on validation data, then apply with :func:`apply_thresholds`.
    """
    score = check_scores("y_score", y_score)
    rate = require_float("selection_rate", selection_rate, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    groups, codes = _prepare(sensitive, y_score=score)
    counts = np.bincount(codes, minlength=len(groups))
    if (counts == 0).any():
        raise ValueError(f"cannot choose a threshold for empty group(s) {list(groups[counts == 0])[:5]}")
    return pd.Series([np.quantile(score[codes == i], 1 - rate) for i in range(len(groups))],
                     index=groups, name="threshold")


def apply_thresholds(y_score: Any, sensitive: Any, thresholds: pd.Series) -> np.ndarray:
    """0/1 predictions: ``score > threshold of the row's group``; a group without a threshold is an error."""
    score = check_scores("y_score", y_score)
    require_type("thresholds", thresholds, pd.Series)
    groups, codes = _prepare(sensitive, y_score=score)
    missing = [g for g in groups if g not in thresholds.index]
    if missing:
        raise ValueError(f"thresholds has no entry for group(s) {missing[:5]}")
    return (score > thresholds.reindex(groups).to_numpy()[codes]).astype(np.int64)


def tradeoff_row(y_true: Any, y_pred: Any, y_score: Any, sensitive: Any) -> dict[str, float]:
    """Accuracy and the three disparities of one model, for the mitigation trade-off table."""
    truth, pred = check_binary("y_true", y_true), check_binary("y_pred", y_pred)
    score = check_scores("y_score", y_score)  # here, not after two metrics have already run and warned
    _check_lengths(y_true=truth, y_pred=pred, y_score=score)
    return {
        "accuracy": float((truth == pred).mean()),
        "selection rate": float(pred.mean()),
        "DPD": demographic_parity_difference(pred, sensitive).difference,
        "EOD": equal_opportunity_difference(truth, pred, sensitive).difference,
        "APD": average_prediction_difference(score, sensitive).difference,
    }


# --------------------------------------------------------------------------------------------------
# 5.3 Sustainability: FLOPs and energy. Parameters, bytes on disk and latency are Part IV's
# (``compression.count_parameters``, ``state_dict_bytes``, ``median_latency_ms``), reused as they are.
# --------------------------------------------------------------------------------------------------
def count_flops(model: nn.Module, *args: Any, **kwargs: Any) -> int:
    """Floating-point operations of one forward pass, counted by ``torch.utils.flop_counter``.

    It counts the aten matrix kernels (a multiply-add = 2 FLOPs); int8 kernels such as
    ``quantized::linear_dynamic`` are not floating point and are not counted, so a quantized model
    seems to do less work than it does.
    """
    from torch.utils.flop_counter import FlopCounterMode

    require_type("model", model, nn.Module)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(*args, **kwargs)
    return int(counter.get_total_flops())


@dataclass(frozen=True)
class EnergyEstimate:
    """What codecarbon's offline tracker reports for a workload (energies in kWh, emissions in kg CO₂e)."""

    seconds: float
    cpu_energy_kwh: float
    ram_energy_kwh: float
    emissions_kg: float
    country_iso_code: str

    @property
    def energy_kwh(self) -> float:
        return self.cpu_energy_kwh + self.ram_energy_kwh

    @property
    def carbon_intensity_g_per_kwh(self) -> float:
        """The grid intensity codecarbon used (g CO₂e per kWh), recovered from its two outputs."""
        return 1000 * self.emissions_kg / self.energy_kwh if self.energy_kwh else float("nan")


def measure_energy(run: Callable[[], Any], *, repeats: int = 10, country_iso_code: str = "CHN") -> EnergyEstimate:
    """Energy and CO₂ of ``repeats`` calls of ``run``, from codecarbon's ``OfflineEmissionsTracker``.

    Assumptions, all codecarbon's (state them next to any number this returns):

    - CPU: measured where the hardware exposes it (Intel RAPL); otherwise, as on most cloud VMs, a
      constant 4 W per CPU thread. ``tracking_mode="process"`` scales that by this process's share of
      the CPU, so the CPU energy is ≈ 4 W × the process's CPU seconds and does not grow when other
      programs slow the run down.
    - RAM: a power per memory module estimated from this process's memory (at least two modules),
      times the *wall* time: it does grow on a busy machine.
    - CO₂: energy × the country's average grid intensity from codecarbon's bundled table (offline).

    ``output_methods=[]`` writes no ``emissions.csv`` (the ``save_to_*`` flags are deprecated).
    """
    from codecarbon import OfflineEmissionsTracker

    require_callable("run", run)
    repeats = require_positive_int("repeats", repeats)
    require_type("country_iso_code", country_iso_code, str)
    logging.getLogger("codecarbon").setLevel(logging.ERROR)
    tracker = OfflineEmissionsTracker(country_iso_code=country_iso_code, output_methods=[], log_level="error",
                                      measure_power_secs=1, tracking_mode="process")
    tracker.start()
    try:
        for _ in range(repeats):
            run()
    finally:
        tracker.stop()
    result = tracker.final_emissions_data
    return EnergyEstimate(result.duration, result.cpu_energy, result.ram_energy, result.emissions, country_iso_code)


# --------------------------------------------------------------------------------------------------
# Benchmark: the mitigation trade-off over several seeds (``python -m roadmap_lib.responsible benchmark``)
# --------------------------------------------------------------------------------------------------
def mitigation_study(config: dict[str, Any]) -> dict[str, Any]:
    """Section 5.2.2's trade-off table for each seed (a new split *and* new initial weights per seed),
    so the chapter can say which of its single-run observations survive a change of seed. Every
    setting is checked before Adult is loaded."""
    require_keys("config", config, ("seeds", "alphas", "classifier"))
    seeds = require_seeds("seeds", config["seeds"])
    require_type("alphas", config["alphas"], (list, tuple))
    require_type("classifier", config["classifier"], Mapping)
    alphas = [require_float(f"alphas[{i}]", a, low=0.0) for i, a in enumerate(config["alphas"])]
    unknown = sorted(set(config["classifier"]) - set(TorchMLPClassifier().get_params()))
    if unknown:
        raise ValueError(f"classifier has unknown settings {unknown}")
    TorchMLPClassifier(**dict(config["classifier"], seed=0))._check_params()
    rows = []
    for seed in seeds:
        split = adult_split(seed=seed)
        preprocessor = adult_preprocessor().fit(split.x_train)
        x_train, x_val, x_test = (preprocessor.transform(x).astype(np.float32)
                                  for x in (split.x_train, split.x_val, split.x_test))
        settings = dict(config["classifier"], seed=seed)
        sex_train, sex_val, sex_test = split.s_train["sex"], split.s_val["sex"], split.s_test["sex"]
        models = {
            "baseline": TorchMLPClassifier(**settings).fit(x_train, split.y_train),
            "reweighing": TorchMLPClassifier(**settings).fit(
                x_train, split.y_train, sample_weight=reweighing_weights(split.y_train, sex_train)),
        }
        for alpha in alphas:
            models[f"adversarial α={alpha:g}"] = AdversarialDebiasingClassifier(**settings, adversary_weight=alpha).fit(
                x_train, split.y_train, sensitive_features=sex_train)
        for name, model in models.items():
            score = model.predict_proba(x_test)[:, 1]
            rows.append({"seed": seed, "method": name,
                         **tradeoff_row(split.y_test, model.predict(x_test), score, sex_test)})
        base = models["baseline"]
        thresholds = group_thresholds(base.predict_proba(x_val)[:, 1], sex_val, base.predict(x_val).mean())
        score = base.predict_proba(x_test)[:, 1]
        rows.append({"seed": seed, "method": "group thresholds",
                     **tradeoff_row(split.y_test, apply_thresholds(score, sex_test, thresholds), score, sex_test)})
    return {"rows": rows}


_CLASSIFIER = {"hidden": [64, 32], "epochs": 8, "lr": 3e-3, "batch_size": 256, "weight_decay": 1e-4}
BENCHMARKS = [Benchmark(
    "fairness_mitigation_seeds", mitigation_study,
    config={"seeds": [0, 1, 2, 3, 4], "alphas": [0.1, 0.3, 1.0], "classifier": _CLASSIFIER},
    smoke_config={"seeds": [1], "alphas": [0.3], "classifier": dict(_CLASSIFIER, epochs=1)},
)]

if __name__ == "__main__":
    if sys.argv[1:2] != ["benchmark"]:
        sys.exit("usage: python -m roadmap_lib.responsible benchmark [names...] [--smoke] [--out PATH]")
    cli(BENCHMARKS, sys.argv[2:], prog="python -m roadmap_lib.responsible benchmark")
