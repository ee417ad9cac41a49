"""The two towers every model in Part II shares, and the one training loop they all use."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..runtime import progress
from ..validation import (
    require_callable,
    require_int,
    require_positive_float,
    require_positive_int,
    require_type,
)
from .captions import PAD, Vocab


class ImageTower(nn.Module):
    """Two 3×3 convolutions and a 2×2 max-pool: an 8×8 digit becomes a 4×4 grid of feature vectors.

    ``forward`` returns ``(regions, pooled)``: ``pooled`` ``(b, dim)`` from the whole grid flattened (a
    plain mean would throw away *where* the strokes are); ``regions`` ``(b, 16, dim)``, one vector per
    grid cell plus a learned position embedding, only when built with ``regions=True`` (cross-attention
    needs them; elsewhere they would be parameters that never train), else ``None``.
    """

    def __init__(self, dim: int = 64, channels: int = 32, regions: bool = False) -> None:
        super().__init__()
        dim = require_positive_int("dim", dim)
        channels = require_int("channels", channels, minimum=2)  # the first convolution has channels // 2
        require_type("regions", regions, bool)
        self.conv = nn.Sequential(
            nn.Conv2d(1, channels // 2, 3, padding=1), nn.ReLU(),
            nn.Conv2d(channels // 2, channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.pool = nn.Linear(16 * channels, dim)
        self.region = nn.Linear(channels, dim) if regions else None
        self.position = nn.Parameter(torch.zeros(16, dim)) if regions else None

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        maps = self.conv(images)  # (b, c, 4, 4)
        pooled = self.pool(maps.flatten(1))
        if self.region is None:
            return None, pooled
        return self.region(maps.flatten(2).transpose(1, 2)) + self.position, pooled


class TextTower(nn.Module):
    """Token embeddings and their masked mean (a bag of words: order-blind, fast, enough here)."""

    def __init__(self, vocab_size: int, dim: int = 64) -> None:
        super().__init__()
        vocab_size, dim = require_positive_int("vocab_size", vocab_size), require_positive_int("dim", dim)
        self.embedding = nn.Embedding(vocab_size, dim, padding_idx=PAD)

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(token_vectors, mask, pooled)``; padding is excluded from the mean."""
        vectors = self.embedding(tokens)
        mask = tokens != PAD
        pooled = (vectors * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        return vectors, mask, pooled


def check_vocab(model: nn.Module, vocab) -> None:
    """``vocab`` must be the one ``model``'s text tower was built for: a larger one yields ids past its
    embedding table (an ``IndexError`` inside PyTorch), a smaller one means other words."""
    require_type("vocab", vocab, Vocab)
    size = model.text.embedding.num_embeddings
    if len(vocab) != size:
        raise ValueError(f"vocab must be the model's vocabulary ({size} tokens), got {len(vocab)} tokens")


def check_config(config) -> None:
    """The fields every Part II ``*Config`` shares, checked when the config is made, so a bad value fails
    at the door rather than inside a tower or after the first training steps."""
    require_positive_int("dim", config.dim)
    require_int("channels", config.channels, minimum=2)
    for name in ("steps", "batch_size"):
        require_positive_int(name, getattr(config, name))
    require_positive_float("lr", config.lr)
    require_int("seed", config.seed, minimum=0)


def train_steps(model: nn.Module, step_loss: Callable[[int], torch.Tensor], steps: int, lr: float,
                desc: str, on_step: Callable[[int], None] | None = None) -> list[float]:
    """The training loop every model here shares: AdamW, a loss per step, the losses returned.

    ``step_loss(step)`` draws its own batch and returns a scalar loss; ``on_step(step)`` runs after each
    update (the dual encoder records its temperature there). ``steps`` and ``lr`` are checked here too,
    for callers that pass them without a ``*Config``.
    """
    require_type("model", model, nn.Module)
    require_callable("step_loss", step_loss, "step -> scalar loss tensor")
    steps = require_positive_int("steps", steps)
    lr = require_positive_float("lr", lr)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    losses = []
    model.train()
    for step in progress(range(steps), desc=desc):
        loss = step_loss(step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if on_step is not None:
            on_step(step)
    model.eval()
    return losses
