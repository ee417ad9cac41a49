"""2.3 Self-supervised learning: SimCLR pre-training of the image tower, a linear probe with a few
labels, and the supervised baselines it is measured against."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from ..validation import require_int, require_positive_float, require_positive_int, require_type
from .captions import check_labels, check_model_images
from .contrastive import check_pair
from .towers import ImageTower, check_config, train_steps


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A random view of each digit: a small random affine warp (rotate ±15°, scale 0.9–1.1, shear,
    shift up to one pixel), ink scaled by 0.7–1.3, 10% of pixels dropped, a little noise. Strong enough
    that two views differ, weak enough that a digit stays itself (SimCLR's crops and colour jitter,
    shrunk to 8×8)."""
    require_type("images", images, torch.Tensor)  # the warp is PyTorch's; it takes no NumPy arrays
    check_model_images("images", images)
    require_type("generator", generator, torch.Generator)
    n = len(images)
    angle = math.radians(15) * (2 * torch.rand(n, generator=generator) - 1)
    scale = 0.9 + 0.2 * torch.rand(n, generator=generator)
    shear = 0.2 * (2 * torch.rand(n, generator=generator) - 1)
    shift = 0.25 * (2 * torch.rand(n, 2, generator=generator) - 1)  # grid units: 0.25 = one pixel
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin + shear, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    warped = F.grid_sample(images, grid, align_corners=False)
    ink = 0.7 + 0.6 * torch.rand(n, 1, 1, 1, generator=generator)
    keep = (torch.rand(warped.shape, generator=generator) > 0.1).float()
    noise = 0.05 * torch.randn(warped.shape, generator=generator)
    return (warped * ink * keep + noise).clamp(0, 1)


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.2) -> torch.Tensor:
    """SimCLR's NT-Xent loss: each of the 2N views must pick its partner out of the other 2N − 1
    (both views of every other image are negatives; unlike :func:`clip_loss`, same-side pairs count)."""
    check_pair("z1", z1, "z2", z2)
    temperature = require_positive_float("temperature", temperature)
    z = F.normalize(torch.cat([z1, z2]), dim=-1)
    logits = z @ z.T / temperature
    logits.fill_diagonal_(float("-inf"))
    n = len(z1)
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return F.cross_entropy(logits, targets)


@dataclass(frozen=True)
class SSLConfig:
    dim: int = 64
    channels: int = 32
    steps: int = 400
    batch_size: int = 128
    lr: float = 3e-3
    temperature: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        check_config(self)
        require_positive_float("temperature", self.temperature)


def simclr_pretrain(images, config: SSLConfig = SSLConfig()) -> tuple[ImageTower, list[float]]:
    """Pre-train an :class:`ImageTower` without labels: two augmented views per image, a small MLP
    projection head (thrown away afterwards, as in SimCLR), NT-Xent loss."""
    check_model_images("images", images)
    require_type("config", config, SSLConfig)
    torch.manual_seed(config.seed)
    tower = ImageTower(config.dim, config.channels)
    head = nn.Sequential(nn.ReLU(), nn.Linear(config.dim, config.dim))
    both = nn.ModuleDict({"tower": tower, "head": head})
    images = torch.as_tensor(images)
    gen = torch.Generator().manual_seed(config.seed)

    def step_loss(_: int) -> torch.Tensor:
        batch = images[torch.randperm(len(images), generator=gen)[: config.batch_size]]
        views = torch.cat([augment(batch, gen), augment(batch, gen)])
        z = head(tower(views)[1])
        return nt_xent(z[: len(batch)], z[len(batch):], config.temperature)

    return tower, train_steps(both, step_loss, config.steps, config.lr, "SimCLR")


@torch.no_grad()
def tower_features(tower: ImageTower, images) -> np.ndarray:
    """Frozen pooled features ``(n, dim)`` as NumPy, for a scikit-learn linear probe."""
    require_type("tower", tower, ImageTower)
    check_model_images("images", images)
    tower.eval()
    return tower(torch.as_tensor(images))[1].numpy()


def few_labels(labels, per_class: int, seed: int = 0) -> np.ndarray:
    """Indices of ``per_class`` random examples of every digit (the small labelled set)."""
    labels = np.asarray(labels)
    per_class = require_positive_int("per_class", per_class)
    rng = np.random.default_rng(require_int("seed", seed, minimum=0))
    picks = []
    for d in range(10):
        pool = np.flatnonzero(labels == d)
        if len(pool) < per_class:
            raise ValueError(f"per_class={per_class} exceeds the {len(pool)} examples of digit {d}")
        picks.append(rng.choice(pool, per_class, replace=False))
    return np.concatenate(picks)


def linear_probe(train_features: np.ndarray, train_labels, test_features: np.ndarray, test_labels) -> float:
    """Accuracy of a logistic regression fitted on frozen, standardised features (the SSL yardstick)."""
    if train_features.ndim != 2 or test_features.ndim != 2 or train_features.shape[1] != test_features.shape[1]:
        raise ValueError(f"train_features and test_features must be 2-D with the same width, got "
                         f"{train_features.shape} and {test_features.shape}")
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    probe.fit(train_features, np.asarray(train_labels))
    return float(probe.score(test_features, np.asarray(test_labels)))


def train_supervised(images, labels, config: SSLConfig = SSLConfig(), steps: int = 300,
                     init: ImageTower | None = None, augmented: bool = True) -> nn.Module:
    """An :class:`ImageTower` plus a linear layer trained on the labelled images only, by default with
    the SSL augmentations. From scratch (``init=None``) it is the baseline self-supervision has to beat;
    from a pre-trained tower (a copy of ``init``) it is SSL followed by fine-tuning."""
    check_model_images("images", images)
    labels = torch.as_tensor(check_labels("labels", labels, len(images)))
    require_type("config", config, SSLConfig)
    steps = require_positive_int("steps", steps)
    require_type("augmented", augmented, bool)
    if init is not None:
        require_type("init", init, ImageTower)
        if init.pool.out_features != config.dim:  # the linear head is built for config.dim features
            raise ValueError(f"init must output config.dim={config.dim} features, got {init.pool.out_features}")
    torch.manual_seed(config.seed)
    tower = copy.deepcopy(init) if init is not None else ImageTower(config.dim, config.channels)
    model = nn.Sequential()
    model.tower, model.head = tower, nn.Linear(config.dim, 10)
    images = torch.as_tensor(images)
    gen = torch.Generator().manual_seed(config.seed)

    def step_loss(_: int) -> torch.Tensor:
        return F.cross_entropy(model.head(tower(augment(images, gen) if augmented else images)[1]), labels)

    train_steps(model, step_loss, steps, config.lr, "from scratch")
    return model
