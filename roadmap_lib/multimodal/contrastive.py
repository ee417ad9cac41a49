"""2.1.2 Alignment and contrastive learning: the article's loss fixed (cosine similarities, learnable
temperature), a CLIP-style dual encoder, zero-shot classification and retrieval."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..validation import require_float, require_int, require_non_empty, require_positive_float, require_type
from .captions import PairedDigits, Vocab, check_images, check_labels, check_model_images
from .towers import ImageTower, TextTower, check_config, check_vocab, train_steps


def check_pair(first: str, a, second: str, b) -> None:
    require_type(first, a, torch.Tensor)
    require_type(second, b, torch.Tensor)
    if a.dim() != 2 or b.dim() != 2:
        raise ValueError(f"{first} and {second} must be 2-D (batch, dim), got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"{first} and {second} must pair row by row: batch sizes {a.shape[0]} != {b.shape[0]}")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{first} and {second} must share a feature dim to be compared: {a.shape[1]} != {b.shape[1]}")
    require_non_empty(first, a)


def clip_loss(image_features: torch.Tensor, text_features: torch.Tensor, temperature) -> torch.Tensor:
    """Symmetric InfoNCE (CLIP) on *cosine* similarities: row ``i`` of each input is a matching pair.

    Both sides are L2-normalised first, so every logit is ``cos / temperature`` in ``[-1/T, 1/T]``;
    the article skips this and feeds raw dot products, which grow with the feature dimension.
    ``temperature`` may be a float or a (learnable) tensor; it must be > 0.
    """
    check_pair("image_features", image_features, "text_features", text_features)
    if isinstance(temperature, torch.Tensor):
        if temperature.numel() != 1 or not bool(temperature.detach() > 0):
            raise ValueError(f"temperature must be a positive scalar, got {temperature.detach().flatten()[:3].tolist()}")
    else:
        temperature = require_positive_float("temperature", temperature)
    logits = F.normalize(image_features, dim=-1) @ F.normalize(text_features, dim=-1).T / temperature
    targets = torch.arange(len(logits), device=logits.device)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2


class DualEncoder(nn.Module):
    """CLIP in miniature: an image tower and a text tower projected into one unit-sphere space, and a
    learnable temperature stored as ``log(1/T)`` (CLIP's parameterisation: positive by construction,
    clamped at 1/T = 100 so the logits cannot blow up)."""

    def __init__(self, vocab_size: int, dim: int = 64, channels: int = 32, init_temperature: float = 0.07):
        super().__init__()
        init_temperature = require_float("init_temperature", init_temperature, low=0.0, high=1.0,
                                         low_inclusive=False)
        self.image = ImageTower(dim, channels)
        self.text = TextTower(vocab_size, dim)
        self.image_proj = nn.Linear(dim, dim)
        self.text_proj = nn.Linear(dim, dim)
        self.log_scale = nn.Parameter(torch.tensor(math.log(1 / init_temperature)))

    @property
    def temperature(self) -> torch.Tensor:
        return 1 / self.log_scale.clamp(max=math.log(100.0)).exp()

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        """Unit vectors ``(b, dim)``."""
        check_model_images("images", images)
        return F.normalize(self.image_proj(self.image(images)[1]), dim=-1)

    def encode_texts(self, tokens: torch.Tensor) -> torch.Tensor:
        """Unit vectors ``(b, dim)`` from token ids."""
        require_type("tokens", tokens, torch.Tensor)
        if tokens.dim() != 2:
            raise ValueError(f"tokens must be (batch, length) ids, got shape {tuple(tokens.shape)}")
        return F.normalize(self.text_proj(self.text(tokens)[2]), dim=-1)

    def forward(self, images: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        return clip_loss(self.encode_images(images), self.encode_texts(tokens), self.temperature)


@dataclass(frozen=True)
class ClipConfig:
    """Hyper-parameters of the dual encoder (named here, CleanRL-style, so the notebook shows them)."""

    dim: int = 64
    channels: int = 32
    steps: int = 400
    batch_size: int = 128
    lr: float = 3e-3
    init_temperature: float = 0.07
    seed: int = 0

    def __post_init__(self) -> None:
        check_config(self)
        require_float("init_temperature", self.init_temperature, low=0.0, high=1.0, low_inclusive=False)


def train_dual_encoder(data: PairedDigits, vocab: Vocab, config: ClipConfig = ClipConfig(),
                       loss_fn: Callable | None = None) -> tuple[DualEncoder, dict[str, list[float]]]:
    """Train a :class:`DualEncoder` on random (image, caption) pairs: each step draws a batch of images
    and, for each, one of its training captions (a random template and language).

    ``loss_fn(image_vecs, text_vecs, model)`` replaces the fixed loss (the chapter passes the article's
    raw-dot loss to compare). Returns the model and ``{"loss": [...], "temperature": [...]}``.
    """
    require_type("data", data, PairedDigits)
    require_type("vocab", vocab, Vocab)
    require_type("config", config, ClipConfig)
    torch.manual_seed(config.seed)
    model = DualEncoder(len(vocab), config.dim, config.channels, config.init_temperature)
    tokens = data.caption_tokens(vocab)
    n, k = tokens.shape[:2]
    gen = torch.Generator().manual_seed(config.seed)
    temps: list[float] = []

    def step_loss(_: int) -> torch.Tensor:
        idx = torch.randperm(n, generator=gen)[: config.batch_size]
        which = torch.randint(k, (len(idx),), generator=gen)
        images, texts = data.images[idx], tokens[idx, which]
        if loss_fn is None:
            return model(images, texts)
        img = model.image_proj(model.image(images)[1])
        txt = model.text_proj(model.text(texts)[2])
        return loss_fn(img, txt, model)

    losses = train_steps(model, step_loss, config.steps, config.lr, "dual encoder",
                        lambda _: temps.append(model.temperature.item()))
    return model, {"loss": losses, "temperature": temps}


@torch.no_grad()
def class_embeddings(model: DualEncoder, vocab: Vocab, prompts: Sequence[Sequence[str]]) -> torch.Tensor:
    """One unit vector per class: the normalised mean of its prompts' embeddings (prompt ensembling)."""
    require_type("model", model, DualEncoder)
    check_vocab(model, vocab)
    require_type("prompts", prompts, (list, tuple))
    require_non_empty("prompts", prompts)
    rows = []
    for i, group in enumerate(prompts):
        require_type(f"prompts[{i}]", group, (list, tuple))
        require_non_empty(f"prompts[{i}]", group)
        for j, prompt in enumerate(group):
            require_type(f"prompts[{i}][{j}]", prompt, str)
        rows.append(model.encode_texts(vocab.encode(list(group))).mean(0))
    return F.normalize(torch.stack(rows), dim=-1)


@torch.no_grad()
def zero_shot_accuracy(model: DualEncoder, vocab: Vocab, images, labels, prompts) -> float:
    """Classify each image as the class whose prompt embedding is most similar; return accuracy."""
    check_model_images("images", images)
    labels = check_labels("labels", labels, len(images))
    classes = class_embeddings(model, vocab, prompts)
    if len(classes) != 10:
        raise ValueError(f"prompts must hold one group per digit (10), got {len(classes)}")
    pred = (model.encode_images(torch.as_tensor(images)) @ classes.T).argmax(1).numpy()
    return float((pred == labels).mean())


def recall_at_k(similarity: torch.Tensor, relevant: torch.Tensor, ks: Sequence[int] = (1, 5)) -> dict[int, float]:
    """Share of queries (rows) with a relevant item among their ``k`` most similar columns.

    ``relevant[i, j]`` says whether column ``j`` is a correct answer to row ``i``. Why a mask and not
    the diagonal: two digits with word-for-word identical captions are indistinguishable by text, so
    retrieving either one is right.
    """
    require_type("similarity", similarity, torch.Tensor)
    require_type("relevant", relevant, torch.Tensor)
    if similarity.dim() != 2 or similarity.shape != relevant.shape:
        raise ValueError(f"similarity and relevant must be 2-D and the same shape, got "
                         f"{tuple(similarity.shape)} and {tuple(relevant.shape)}")
    require_non_empty("ks", ks)
    out = {}
    for k in ks:
        k = require_int("k", k, minimum=1, maximum=similarity.shape[1])
        top = similarity.topk(k, dim=1).indices
        out[k] = float(relevant.gather(1, top).any(1).float().mean())
    return out


@torch.no_grad()
def retrieval_recall(model: DualEncoder, vocab: Vocab, images, captions: Sequence[str],
                     ks: Sequence[int] = (1, 5)) -> dict[str, float]:
    """Image→text and text→image Recall@k for paired ``images`` and ``captions``.

    Many digits share a word-for-word identical caption, and identical captions are indistinguishable,
    so the caption side is deduplicated: an image queries the distinct captions (a hit is its own
    caption's text), and each distinct caption queries the images (a hit is any image it describes).
    The ``chance`` entries are what random ranking gets at k = 1; the ``distinct top-1 share`` is the
    share of distinct images among the captions' first results (low: a few hub images win everywhere).
    """
    require_type("model", model, DualEncoder)
    check_vocab(model, vocab)
    check_images("images", images)
    require_type("captions", captions, (list, tuple))
    require_non_empty("captions", captions)
    if len(captions) != len(images):
        raise ValueError(f"captions must pair with images one to one: {len(captions)} != {len(images)}")
    distinct = list(dict.fromkeys(captions))
    index = {c: i for i, c in enumerate(distinct)}
    relevant = torch.zeros(len(images), len(distinct), dtype=torch.bool)
    relevant[torch.arange(len(images)), torch.tensor([index[c] for c in captions])] = True
    similarity = model.encode_images(torch.as_tensor(images)) @ model.encode_texts(vocab.encode(distinct)).T
    ks = [k for k in ks if k <= len(distinct)]
    out = {f"image→text R@{k}": v for k, v in recall_at_k(similarity, relevant, ks).items()}
    out.update({f"text→image R@{k}": v for k, v in recall_at_k(similarity.T, relevant.T, ks).items()})
    out["image→text chance R@1"] = 1 / len(distinct)
    out["text→image chance R@1"] = float(relevant.float().mean(0).mean())
    # A "hub" image that tops many captions' lists is a symptom of a caption-independent bias.
    out["text→image distinct top-1 share"] = len(set(similarity.argmax(0).tolist())) / len(distinct)
    return out
