"""Part II (多模态融合): image–text pairs, a CLIP-style dual encoder, four fusion operators, and the
applications and future directions the article lists (VQA, captioning, multimodal sentiment,
self-supervision, compression), all small enough to train on two CPU cores in seconds.

Data. Images are scikit-learn's handwritten digits (real scans, 8×8). Captions are written from each
image's label *and* from properties measured on its pixels (stroke ink and glyph width, split at the
median of the image's own class so they say something the label does not), in English and Chinese,
from several templates; some templates are held out of training, so zero-shot prompts written with them
test generalisation rather than recall.

Tokenizer. Words for English, single characters for Chinese (Chinese is written without spaces, and a
character vocabulary is what Chinese BERT uses). The book's MiniLM WordPiece vocabulary is English-only:
it maps most of these Chinese characters to ``[UNK]``, which the chapter shows.
"""

from __future__ import annotations

import io
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .runtime import progress
from .validation import (
    require_choice,
    require_float,
    require_int,
    require_non_empty,
    require_positive_float,
    require_positive_int,
    require_type,
)

# --------------------------------------------------------------------------------------------------
# Captions: words, templates, properties measured on the pixels
# --------------------------------------------------------------------------------------------------

LANGUAGES = ("en", "zh")
DIGIT_WORDS = {
    "en": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    "zh": ("零", "一", "二", "三", "四", "五", "六", "七", "八", "九"),
}
#: Property words; index 0 is "below the class median", 1 "at or above it" (parity: even, odd).
WORDS = {
    "en": {"ink": ("thin", "bold"), "width": ("narrow", "wide"), "parity": ("even", "odd"),
           "magnitude": ("small", "large")},
    "zh": {"ink": ("细", "粗"), "width": ("窄", "宽"), "parity": ("偶数", "奇数"),
           "magnitude": ("较小的数", "较大的数")},
}
#: Caption templates. ``train`` ones are seen in training; ``held_out`` ones only at test time. Chinese
#: templates avoid 一 in 一个 ("a"): a bag of characters could not tell it from the digit one.
TEMPLATES = {
    "en": {
        "train": (
            "a {ink} , {width} handwritten {digit}",
            "a photo of the digit {digit}",
            "the number {digit} written in {ink} strokes , it is {parity} and {magnitude}",
            "a {magnitude} {parity} digit : {digit}",
        ),
        "held_out": (
            "an image showing a {digit}",
            "here we see a {width} {digit} drawn with {ink} lines",
        ),
    },
    "zh": {
        "train": (
            "笔画{ink}、字形{width}的手写数字{digit}",
            "数字{digit}的图片",
            "数字{digit}，笔画{ink}，是{parity}，{magnitude}",
            "{magnitude}里的{parity}：{digit}",
        ),
        "held_out": (
            "这张图里是{digit}",
            "字形{width}、笔画{ink}写成的{digit}",
        ),
    },
}
#: The descriptive template the captioner learns to produce (every content word in one sentence).
CAPTION_TEMPLATE = {"en": "a {ink} {width} {digit} , {parity} and {magnitude}",
                    "zh": "笔画{ink}字形{width}的{digit}，{parity}，{magnitude}"}
CONTENT_SLOTS = ("digit", "ink", "width", "parity", "magnitude")


def _check_images(name: str, images) -> None:
    require_type(name, images, (np.ndarray, torch.Tensor))
    if images.ndim != 4 or tuple(images.shape[1:]) != (1, 8, 8):
        raise ValueError(f"{name} must have shape (n, 1, 8, 8), got {tuple(images.shape)}")
    require_non_empty(name, images)


def _check_labels(name: str, labels, n: int) -> np.ndarray:
    require_type(name, labels, (np.ndarray, torch.Tensor, list))
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) to match the images, got {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{name} must hold digits 0..9, got values in [{labels.min()}, {labels.max()}]")
    return labels.astype(np.int64)


def stroke_features(images) -> np.ndarray:
    """Two measurements per image: ``ink`` (mean intensity: stroke thickness) and ``width`` (the
    intensity-weighted spread of column positions, in pixels). Shape ``(n, 2)``.

    Why these: both are visible in an 8×8 image, vary within every class, and need no labels.
    """
    _check_images("images", images)
    x = np.asarray(images, dtype=np.float64)[:, 0]
    mass = x.sum(axis=(1, 2)).clip(min=1e-9)
    cols = np.arange(8)
    col_mass = x.sum(axis=1)  # (n, 8)
    mean_col = (col_mass * cols).sum(1) / mass
    spread = np.sqrt((col_mass * (cols[None, :] - mean_col[:, None]) ** 2).sum(1) / mass)
    return np.stack([x.mean(axis=(1, 2)), spread], axis=1)


@dataclass(frozen=True)
class PropertyThresholds:
    """Per-class medians of :func:`stroke_features`, fitted on training images only."""

    ink: np.ndarray  # (10,)
    width: np.ndarray  # (10,)

    @classmethod
    def fit(cls, images, labels) -> "PropertyThresholds":
        """Medians per class; why per class: a global split would make "bold" mostly mean "an 8"."""
        _check_images("images", images)
        labels = _check_labels("labels", labels, len(images))
        missing = sorted(set(range(10)) - set(labels.tolist()))
        if missing:
            raise ValueError(f"labels must contain every digit to fit thresholds; missing {missing}")
        feats = stroke_features(images)
        med = np.array([np.median(feats[labels == d], axis=0) for d in range(10)])
        return cls(ink=med[:, 0], width=med[:, 1])

    def properties(self, images, labels) -> list[dict[str, int]]:
        """Per image: ``digit``, ``ink`` (0 thin / 1 bold), ``width`` (0 / 1), ``parity``, ``magnitude``."""
        _check_images("images", images)
        labels = _check_labels("labels", labels, len(images))
        feats = stroke_features(images)
        return [
            {"digit": int(d), "ink": int(f[0] >= self.ink[d]), "width": int(f[1] >= self.width[d]),
             "parity": int(d % 2), "magnitude": int(d >= 5)}
            for f, d in zip(feats, labels)
        ]


def render(template: str, props: dict[str, int], language: str) -> str:
    """Fill a caption template with the words for ``props`` in ``language``."""
    require_type("template", template, str)
    require_type("props", props, dict)
    require_choice("language", language, LANGUAGES)
    words = {slot: WORDS[language][slot][value] for slot, value in props.items() if slot != "digit"}
    words["digit"] = DIGIT_WORDS[language][props["digit"]]
    return template.format(**words)


def class_prompts(template: str, language: str) -> list[list[str]]:
    """Zero-shot prompts: for each digit, ``template`` filled with every combination of the property
    slots it mentions (averaging their embeddings is CLIP's *prompt ensembling*)."""
    require_type("template", template, str)
    require_choice("language", language, LANGUAGES)
    slots = [s for s in ("ink", "width") if "{" + s + "}" in template]
    combos = [dict(zip(slots, bits)) for bits in np.ndindex(*(2,) * len(slots))] if slots else [{}]
    prompts = []
    for d in range(10):
        base = {"digit": d, "parity": d % 2, "magnitude": int(d >= 5)}
        prompts.append([render(template, {**base, **{k: int(v) for k, v in c.items()}}, language)
                        for c in combos])
    return prompts


# --------------------------------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"[a-z]+|[\u4e00-\u9fff]")
#: ``<en>``/``<zh>`` start a caption and choose its language, so no separate ``<bos>`` is needed.
SPECIALS = ("<pad>", "<unk>", "<eos>", "<en>", "<zh>")
PAD, UNK, EOS = 0, 1, 2


def tokenize(text: str) -> list[str]:
    """Lower-cased English words and single Chinese characters; punctuation is dropped."""
    require_type("text", text, str)
    return _TOKEN.findall(text.lower())


class Vocab:
    """Token ↔ id map built from training text only: anything unseen becomes ``<unk>``."""

    def __init__(self, texts: Sequence[str]) -> None:
        require_type("texts", texts, (list, tuple))
        require_non_empty("texts", texts)
        self.itos = list(SPECIALS) + sorted({tok for text in texts for tok in tokenize(text)})
        self.stoi = {tok: i for i, tok in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, texts: Sequence[str], *, max_len: int | None = None) -> torch.Tensor:
        """Token ids, right-padded with ``<pad>`` (id 0): shape ``(len(texts), max_len)``."""
        require_type("texts", texts, (list, tuple))
        require_non_empty("texts", texts)
        ids = [[self.stoi.get(tok, UNK) for tok in tokenize(t)] or [UNK] for t in texts]
        width = max_len if max_len is not None else max(map(len, ids))
        require_positive_int("max_len", width)
        out = torch.zeros(len(ids), width, dtype=torch.long)
        for i, row in enumerate(ids):
            out[i, : min(len(row), width)] = torch.tensor(row[:width])
        return out

    def decode(self, ids: Sequence[int], language: str) -> str:
        """Ids back to text, stopping at ``<eos>``; English joined by spaces, Chinese without."""
        require_choice("language", language, LANGUAGES)
        words = []
        for i in ids:
            if int(i) == EOS:
                break
            if int(i) >= len(SPECIALS):
                words.append(self.itos[int(i)])
        return (" " if language == "en" else "").join(words)


# --------------------------------------------------------------------------------------------------
# Towers
# --------------------------------------------------------------------------------------------------


class ImageTower(nn.Module):
    """Two 3×3 convolutions and a 2×2 max-pool: an 8×8 digit becomes a 4×4 grid of feature vectors.

    ``forward`` returns ``(regions, pooled)``: ``pooled`` ``(b, dim)`` from the whole grid flattened (a
    plain mean would throw away *where* the strokes are); ``regions`` ``(b, 16, dim)``, one vector per
    grid cell plus a learned position embedding, only when built with ``regions=True`` (cross-attention
    needs them; elsewhere they would be parameters that never train), else ``None``.
    """

    def __init__(self, dim: int = 64, channels: int = 32, regions: bool = False) -> None:
        super().__init__()
        dim, channels = require_positive_int("dim", dim), require_positive_int("channels", channels)
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


# --------------------------------------------------------------------------------------------------
# 2.1.2 Contrastive alignment: the article's loss, fixed
# --------------------------------------------------------------------------------------------------


def _check_pair(first: str, a, second: str, b) -> None:
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
    _check_pair("image_features", image_features, "text_features", text_features)
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
        _check_images("images", images)
        return F.normalize(self.image_proj(self.image(images)[1]), dim=-1)

    def encode_texts(self, tokens: torch.Tensor) -> torch.Tensor:
        """Unit vectors ``(b, dim)`` from token ids."""
        require_type("tokens", tokens, torch.Tensor)
        if tokens.dim() != 2:
            raise ValueError(f"tokens must be (batch, length) ids, got shape {tuple(tokens.shape)}")
        return F.normalize(self.text_proj(self.text(tokens)[2]), dim=-1)

    def forward(self, images: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        return clip_loss(self.encode_images(images), self.encode_texts(tokens), self.temperature)


@dataclass
class PairedDigits:
    """Digits with their captions: every image has one caption per (language, template)."""

    images: torch.Tensor  # (n, 1, 8, 8)
    labels: np.ndarray  # (n,)
    props: list[dict[str, int]]
    captions: dict[tuple[str, int], list[str]]  # (language, train template index) -> n captions

    def caption_tokens(self, vocab: Vocab, max_len: int = 16) -> torch.Tensor:
        """``(n, k, max_len)``: the k training captions of each image as ids."""
        keys = sorted(self.captions)
        return torch.stack([vocab.encode(self.captions[k], max_len=max_len) for k in keys], dim=1)


def paired_digits(images, labels, thresholds: PropertyThresholds) -> PairedDigits:
    """Pair images with captions from every *training* template, in both languages."""
    _check_images("images", images)
    labels = _check_labels("labels", labels, len(images))
    require_type("thresholds", thresholds, PropertyThresholds)
    props = thresholds.properties(images, labels)
    captions = {(lang, i): [render(t, p, lang) for p in props]
                for lang in LANGUAGES for i, t in enumerate(TEMPLATES[lang]["train"])}
    return PairedDigits(torch.as_tensor(np.asarray(images), dtype=torch.float32), labels, props, captions)


def caption_corpus() -> list[str]:
    """Every training-template caption that can occur (all digits × properties × languages): the text
    the vocabulary is built from. Held-out templates are excluded on purpose."""
    texts = []
    for lang in LANGUAGES:
        for t in TEMPLATES[lang]["train"]:
            for d in range(10):
                for ink in (0, 1):
                    for width in (0, 1):
                        texts.append(render(t, {"digit": d, "ink": ink, "width": width, "parity": d % 2,
                                                "magnitude": int(d >= 5)}, lang))
    return texts


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


def _adam_loop(model: nn.Module, step_loss: Callable[[int], torch.Tensor], steps: int, lr: float,
               desc: str, on_step: Callable[[int], None] | None = None) -> list[float]:
    """The training loop every model here shares: AdamW, a loss per step, the losses returned."""
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

    losses = _adam_loop(model, step_loss, config.steps, config.lr, "dual encoder",
                        lambda _: temps.append(model.temperature.item()))
    return model, {"loss": losses, "temperature": temps}


@torch.no_grad()
def class_embeddings(model: DualEncoder, vocab: Vocab, prompts: Sequence[Sequence[str]]) -> torch.Tensor:
    """One unit vector per class: the normalised mean of its prompts' embeddings (prompt ensembling)."""
    require_type("prompts", prompts, (list, tuple))
    require_non_empty("prompts", prompts)
    rows = []
    for i, group in enumerate(prompts):
        require_type(f"prompts[{i}]", group, (list, tuple))
        require_non_empty(f"prompts[{i}]", group)
        rows.append(model.encode_texts(vocab.encode(list(group))).mean(0))
    return F.normalize(torch.stack(rows), dim=-1)


@torch.no_grad()
def zero_shot_accuracy(model: DualEncoder, vocab: Vocab, images, labels, prompts) -> float:
    """Classify each image as the class whose prompt embedding is most similar; return accuracy."""
    _check_images("images", images)
    labels = _check_labels("labels", labels, len(images))
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
    _check_images("images", images)
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


# --------------------------------------------------------------------------------------------------
# 2.1.1 Fusion operators, compared on one VQA task
# --------------------------------------------------------------------------------------------------


class SumFusion(nn.Module):
    """The article's ``MultiModalEncoder``: project each modality, add, ReLU."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.text_fc, self.visual_fc = nn.Linear(dim, dim), nn.Linear(dim, dim)

    def forward(self, text, mask, text_vec, regions, image_vec):
        return F.relu(self.text_fc(text_vec) + self.visual_fc(image_vec))


class ConcatFusion(nn.Module):
    """Concatenate, then one linear layer and ReLU. Algebraically the same family as :class:`SumFusion`
    (``W[t; v] = W_t t + W_v v``): the chapter checks this numerically."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.fc = nn.Linear(2 * dim, dim)

    def forward(self, text, mask, text_vec, regions, image_vec):
        return F.relu(self.fc(torch.cat([text_vec, image_vec], dim=-1)))


class GatedFusion(nn.Module):
    """Gated multimodal unit (Arevalo et al., 2017): a sigmoid gate computed from both modalities mixes
    their ``tanh`` projections per feature, so the question can decide how much of the image to use."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.text_fc, self.visual_fc = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.gate = nn.Linear(2 * dim, dim)

    def forward(self, text, mask, text_vec, regions, image_vec):
        z = torch.sigmoid(self.gate(torch.cat([text_vec, image_vec], dim=-1)))
        return z * torch.tanh(self.text_fc(text_vec)) + (1 - z) * torch.tanh(self.visual_fc(image_vec))


class CrossAttentionFusion(nn.Module):
    """Each of the 16 image regions attends over the question's tokens (one transformer cross-attention
    block: residual and layer norm), so the question re-weights every region; the regions are then
    flattened, keeping *where* each one is. (The other direction, question tokens attending over the
    regions and then averaged, trained to 0.92 instead of 0.98 here: it averages the layout away.)"""

    def __init__(self, dim: int, heads: int = 4, regions: int = 16) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(regions * dim, dim)

    def forward(self, text, mask, text_vec, regions, image_vec):
        attended, _ = self.attention(regions, text, text, key_padding_mask=~mask, need_weights=False)
        return F.relu(self.out(self.norm(regions + attended).flatten(1)))


FUSIONS: dict[str, type[nn.Module]] = {"sum (article)": SumFusion, "concat": ConcatFusion,
                                       "gated": GatedFusion, "cross-attention": CrossAttentionFusion}


class VQAModel(nn.Module):
    """Image tower + question tower + a fusion operator + a linear answer classifier."""

    def __init__(self, fusion: str, vocab_size: int, n_answers: int, dim: int = 64, channels: int = 32):
        super().__init__()
        require_choice("fusion", fusion, FUSIONS)
        self.image = ImageTower(dim, channels, regions=fusion == "cross-attention")
        self.text = TextTower(vocab_size, dim)
        self.fusion = FUSIONS[fusion](dim)
        self.head = nn.Linear(dim, require_positive_int("n_answers", n_answers))

    def forward(self, images: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        _check_images("images", images)
        require_type("tokens", tokens, torch.Tensor)
        if tokens.dim() != 2 or len(tokens) != len(images):
            raise ValueError(f"tokens must be (batch, length) with batch {len(images)} like images, "
                             f"got shape {tuple(tokens.shape)}")
        regions, image_vec = self.image(images)
        text, mask, text_vec = self.text(tokens)
        return self.head(self.fusion(text, mask, text_vec, regions, image_vec))


QUESTION_TYPES = ("what digit", "even?", "larger than 5?", "is it k?")
QUESTIONS = {
    "en": ("what digit is this ?", "is this digit even ?", "is it larger than five ?", "is this a {k} ?"),
    "zh": ("这是什么数字？", "这个数字是偶数吗？", "它大于五吗？", "这是{k}吗？"),
}
ANSWERS = [str(d) for d in range(10)] + ["yes", "no"]
YES, NO = 10, 11


@dataclass
class VQASet:
    """Image index, question text, question type, language and answer id, one row per question."""

    image_index: np.ndarray
    questions: list[str]
    qtype: np.ndarray  # index into QUESTION_TYPES
    language: np.ndarray  # index into LANGUAGES
    answers: np.ndarray  # index into ANSWERS

    def __len__(self) -> int:
        return len(self.questions)


def vqa_questions(labels, seed: int = 0) -> VQASet:
    """Every image gets every question type in both languages. For "is it k?", ``k`` is the true digit
    half the time and another digit otherwise, so "yes" and "no" are balanced and the answer depends
    on the question *and* the image together."""
    require_type("labels", labels, (np.ndarray, list))
    labels = _check_labels("labels", labels, len(labels))
    require_non_empty("labels", labels)
    rng = np.random.default_rng(require_int("seed", seed, minimum=0))
    rows = []
    for i, d in enumerate(labels):
        k = d if rng.random() < 0.5 else (d + rng.integers(1, 10)) % 10
        for li, lang in enumerate(LANGUAGES):
            q = QUESTIONS[lang]
            rows += [(i, q[0], 0, li, d), (i, q[1], 1, li, YES if d % 2 == 0 else NO),
                     (i, q[2], 2, li, YES if d > 5 else NO),
                     (i, q[3].format(k=DIGIT_WORDS[lang][k]), 3, li, YES if k == d else NO)]
    idx, qs, qt, lg, ans = zip(*rows)
    return VQASet(np.array(idx), list(qs), np.array(qt), np.array(lg), np.array(ans))


def question_vocab() -> Vocab:
    """Vocabulary of every question the VQA set can ask."""
    texts = [q.format(k=w) for lang in LANGUAGES for q in QUESTIONS[lang] for w in DIGIT_WORDS[lang]]
    return Vocab(texts)


@dataclass(frozen=True)
class VQAConfig:
    dim: int = 64
    channels: int = 32
    steps: int = 300
    batch_size: int = 128
    lr: float = 3e-3
    seed: int = 0


def train_vqa(fusion: str, images, vqa: VQASet, vocab: Vocab, config: VQAConfig = VQAConfig()) -> tuple[VQAModel, list[float]]:
    """Train one :class:`VQAModel` with cross-entropy on random question batches; same seed, data and
    steps for every fusion, so differences come from the fusion operator alone."""
    require_choice("fusion", fusion, FUSIONS)
    _check_images("images", images)
    require_type("vqa", vqa, VQASet)
    require_type("config", config, VQAConfig)
    torch.manual_seed(config.seed)
    model = VQAModel(fusion, len(vocab), len(ANSWERS), config.dim, config.channels)
    images = torch.as_tensor(images)
    tokens = vocab.encode(vqa.questions)
    answers = torch.as_tensor(vqa.answers)
    image_index = torch.as_tensor(vqa.image_index)
    gen = torch.Generator().manual_seed(config.seed)

    def step_loss(_: int) -> torch.Tensor:
        rows = torch.randint(len(vqa), (config.batch_size,), generator=gen)
        return F.cross_entropy(model(images[image_index[rows]], tokens[rows]), answers[rows])

    return model, _adam_loop(model, step_loss, config.steps, config.lr, f"VQA {fusion}")


@torch.no_grad()
def vqa_predict(model: VQAModel, images, vqa: VQASet, vocab: Vocab) -> np.ndarray:
    """Predicted answer ids for every row of ``vqa``."""
    require_type("model", model, VQAModel)
    _check_images("images", images)
    require_type("vqa", vqa, VQASet)
    images = torch.as_tensor(images)
    return model(images[torch.as_tensor(vqa.image_index)], vocab.encode(vqa.questions)).argmax(1).numpy()


def model_cost(model: nn.Module, *inputs: torch.Tensor, repeats: int = 20) -> dict[str, float]:
    """Parameters, forward FLOPs (``torch.utils.flop_counter``: matmuls and convolutions) and forward
    latency in milliseconds for the given inputs, the best of ``repeats`` runs (on a shared machine the
    minimum is the least disturbed by other processes, as ``timeit`` advises)."""
    from torch.utils.flop_counter import FlopCounterMode

    require_type("model", model, nn.Module)
    require_non_empty("inputs", inputs)
    repeats = require_positive_int("repeats", repeats)
    model.eval()
    with torch.no_grad():
        with FlopCounterMode(display=False) as counter:
            model(*inputs)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model(*inputs)
            times.append(time.perf_counter() - start)
    return {"parameters": sum(p.numel() for p in model.parameters()),
            "FLOPs": counter.get_total_flops(), "latency_ms": 1000 * min(times)}


def flop_breakdown(model: nn.Module, *inputs: torch.Tensor) -> dict[str, int]:
    """Forward FLOPs per top-level child module (e.g. ``image``, ``text``, ``fusion``, ``head``)."""
    from torch.utils.flop_counter import FlopCounterMode

    require_type("model", model, nn.Module)
    require_non_empty("inputs", inputs)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model.eval()(*inputs)
    counts = counter.get_flop_counts()
    prefix = type(model).__name__
    return {name: int(sum(counts.get(f"{prefix}.{name}", {}).values())) for name, _ in model.named_children()}


def state_dict_bytes(model: nn.Module) -> int:
    """Size of ``torch.save(model.state_dict())`` in bytes: what a download of the weights costs."""
    require_type("model", model, nn.Module)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes


# --------------------------------------------------------------------------------------------------
# 2.2 Image captioning: a GRU decoder conditioned on the image
# --------------------------------------------------------------------------------------------------


def caption_vocab() -> Vocab:
    """Vocabulary of the captioner's target sentences (both languages)."""
    texts = [render(CAPTION_TEMPLATE[lang], {"digit": d, "ink": i, "width": w, "parity": d % 2,
                                             "magnitude": int(d >= 5)}, lang)
             for lang in LANGUAGES for d in range(10) for i in (0, 1) for w in (0, 1)]
    return Vocab(texts)


class Captioner(nn.Module):
    """Show-and-tell in miniature (Vinyals et al., 2015): the image tower's vector sets the GRU's first
    hidden state *and* is fed beside every token (fed only once, a small GRU forgets it before it
    reaches the digit word). The first input token is ``<en>`` or ``<zh>``, so one decoder writes both
    languages and the caller chooses which."""

    def __init__(self, vocab_size: int, dim: int = 64, channels: int = 32, hidden: int = 64) -> None:
        super().__init__()
        self.image = ImageTower(dim, channels)
        self.init = nn.Linear(dim, require_positive_int("hidden", hidden))
        self.embedding = nn.Embedding(require_positive_int("vocab_size", vocab_size), dim, padding_idx=PAD)
        self.gru = nn.GRU(2 * dim, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab_size)

    def forward(self, images: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Next-token logits ``(b, length, vocab)`` under teacher forcing."""
        _check_images("images", images)
        image_vec = self.image(images)[1]
        output, _ = self.gru(self._inputs(inputs, image_vec), self._start(image_vec))
        return self.out(output)

    def _start(self, image_vec: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.init(image_vec)).unsqueeze(0)

    def _inputs(self, tokens: torch.Tensor, image_vec: torch.Tensor) -> torch.Tensor:
        embedded = self.embedding(tokens)
        return torch.cat([embedded, image_vec.unsqueeze(1).expand(-1, embedded.shape[1], -1)], dim=-1)

    @torch.no_grad()
    def generate(self, images: torch.Tensor, language: str, max_len: int = 16) -> torch.Tensor:
        """Greedy decoding: ids ``(b, max_len)``, each row ending at its first ``<eos>``."""
        _check_images("images", images)
        require_choice("language", language, LANGUAGES)
        max_len = require_positive_int("max_len", max_len)
        image_vec = self.image(images)[1]
        h = self._start(image_vec)
        token = torch.full((len(images), 1), SPECIALS.index(f"<{language}>"))
        out = []
        for _ in range(max_len):
            step, h = self.gru(self._inputs(token, image_vec), h)
            token = self.out(step).argmax(-1)
            out.append(token)
        return torch.cat(out, dim=1)


def caption_targets(props: Sequence[dict[str, int]], vocab: Vocab) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Decoder inputs (``<lang>`` + caption) and targets (caption + ``<eos>``) per language."""
    require_non_empty("props", props)
    out = {}
    for lang in LANGUAGES:
        ids = vocab.encode([render(CAPTION_TEMPLATE[lang], p, lang) for p in props])
        start = torch.full((len(ids), 1), SPECIALS.index(f"<{lang}>"))
        lengths = (ids != PAD).sum(1)
        targets = torch.cat([ids, torch.zeros(len(ids), 1, dtype=torch.long)], dim=1)
        targets[torch.arange(len(ids)), lengths] = EOS
        out[lang] = (torch.cat([start, ids], dim=1), targets)
    return out


@dataclass(frozen=True)
class CaptionConfig:
    dim: int = 64
    channels: int = 32
    hidden: int = 64
    steps: int = 400
    batch_size: int = 128
    lr: float = 3e-3
    seed: int = 0


def train_captioner(data: PairedDigits, vocab: Vocab, config: CaptionConfig = CaptionConfig()) -> tuple[Captioner, list[float]]:
    """Teacher-forced cross-entropy over caption tokens (padding ignored); English and Chinese batches
    alternate, so the same image tower and GRU serve both."""
    require_type("data", data, PairedDigits)
    require_type("vocab", vocab, Vocab)
    require_type("config", config, CaptionConfig)
    torch.manual_seed(config.seed)
    model = Captioner(len(vocab), config.dim, config.channels, config.hidden)
    pairs = caption_targets(data.props, vocab)
    gen = torch.Generator().manual_seed(config.seed)

    def step_loss(step: int) -> torch.Tensor:
        idx = torch.randperm(len(data.images), generator=gen)[: config.batch_size]
        inputs, targets = pairs[LANGUAGES[step % len(LANGUAGES)]]  # languages take turns
        logits = model(data.images[idx], inputs[idx])
        return F.cross_entropy(logits.flatten(0, 1), targets[idx].flatten(), ignore_index=PAD)

    return model, _adam_loop(model, step_loss, config.steps, config.lr, "captioner")


def content_match(caption: str, props: dict[str, int], language: str) -> dict[str, bool]:
    """Per content slot, whether ``caption`` states the true value and no competing one.

    Why not BLEU alone: on one-template captions BLEU rewards the fixed function words; what matters is
    whether the digit, its parity, magnitude, ink and width were all said correctly.
    """
    require_type("caption", caption, str)
    require_type("props", props, dict)
    require_choice("language", language, LANGUAGES)
    if language == "en":
        present = set(tokenize(caption))
        has = lambda word: word in present  # noqa: E731
    else:
        has = lambda word: word in caption  # noqa: E731
    out = {}
    for slot in CONTENT_SLOTS:
        options = DIGIT_WORDS[language] if slot == "digit" else WORDS[language][slot]
        truth = options[props[slot]]
        out[slot] = has(truth) and not any(has(o) for o in options if o != truth)
    return out


# --------------------------------------------------------------------------------------------------
# 2.3 Self-supervised pre-training (SimCLR) and a linear probe
# --------------------------------------------------------------------------------------------------


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A random view of each digit: a small random affine warp (rotate ±15°, scale 0.9–1.1, shear,
    shift up to one pixel), ink scaled by 0.7–1.3, 10% of pixels dropped, a little noise. Strong enough
    that two views differ, weak enough that a digit stays itself (SimCLR's crops and colour jitter,
    shrunk to 8×8)."""
    _check_images("images", images)
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
    _check_pair("z1", z1, "z2", z2)
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


def simclr_pretrain(images, config: SSLConfig = SSLConfig()) -> tuple[ImageTower, list[float]]:
    """Pre-train an :class:`ImageTower` without labels: two augmented views per image, a small MLP
    projection head (thrown away afterwards, as in SimCLR), NT-Xent loss."""
    _check_images("images", images)
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

    return tower, _adam_loop(both, step_loss, config.steps, config.lr, "SimCLR")


@torch.no_grad()
def tower_features(tower: ImageTower, images) -> np.ndarray:
    """Frozen pooled features ``(n, dim)`` as NumPy, for a scikit-learn linear probe."""
    require_type("tower", tower, ImageTower)
    _check_images("images", images)
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
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

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
    import copy

    _check_images("images", images)
    labels = torch.as_tensor(_check_labels("labels", labels, len(images)))
    torch.manual_seed(config.seed)
    require_type("augmented", augmented, bool)
    if init is not None:
        require_type("init", init, ImageTower)
    tower = copy.deepcopy(init) if init is not None else ImageTower(config.dim, config.channels)
    model = nn.Sequential()
    model.tower, model.head = tower, nn.Linear(config.dim, 10)
    images = torch.as_tensor(images)
    gen = torch.Generator().manual_seed(config.seed)

    def step_loss(_: int) -> torch.Tensor:
        return F.cross_entropy(model.head(tower(augment(images, gen) if augmented else images)[1]), labels)

    _adam_loop(model, step_loss, require_positive_int("steps", steps), config.lr, "from scratch")
    return model


# --------------------------------------------------------------------------------------------------
# 2.3 Compression of the dual encoder: distillation and int8 weights
# --------------------------------------------------------------------------------------------------


def distil_dual_encoder(teacher: DualEncoder, data: PairedDigits, vocab: Vocab, config: ClipConfig) -> tuple[DualEncoder, list[float]]:
    """Train a smaller :class:`DualEncoder` (``config`` gives its size) to reproduce the teacher's
    image→text and text→image similarity distributions on each batch (Hinton et al., 2015, applied to
    the contrastive logits). The student's temperature is tied to the teacher's."""
    require_type("teacher", teacher, DualEncoder)
    require_type("data", data, PairedDigits)
    require_type("config", config, ClipConfig)
    torch.manual_seed(config.seed)
    student = DualEncoder(len(vocab), config.dim, config.channels, teacher.temperature.item())
    student.log_scale.requires_grad_(False)
    tokens = data.caption_tokens(vocab)
    n, k = tokens.shape[:2]
    gen = torch.Generator().manual_seed(config.seed)
    temperature = teacher.temperature.detach()

    def logits(model: DualEncoder, images: torch.Tensor, texts: torch.Tensor) -> torch.Tensor:
        return model.encode_images(images) @ model.encode_texts(texts).T / temperature

    def step_loss(_: int) -> torch.Tensor:
        idx = torch.randperm(n, generator=gen)[: config.batch_size]
        images, texts = data.images[idx], tokens[idx, torch.randint(k, (len(idx),), generator=gen)]
        with torch.no_grad():
            target = logits(teacher, images, texts)
        mine = logits(student, images, texts)
        return sum(F.kl_div(F.log_softmax(m, 1), F.softmax(t, 1), reduction="batchmean")
                   for m, t in ((mine, target), (mine.T, target.T))) / 2

    return student, _adam_loop(student, step_loss, config.steps, config.lr, "distillation")


def int8_weights(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose ``nn.Linear`` weights are stored as int8 with one scale per output
    channel (torchao's weight-only int8, the maintained successor of ``torch.ao`` quantization).
    Convolutions and embeddings stay float32."""
    import copy

    from torchao.quantization import Int8WeightOnlyConfig, quantize_

    require_type("model", model, nn.Module)
    quantized = copy.deepcopy(model).eval()
    quantize_(quantized, Int8WeightOnlyConfig())
    return quantized


# --------------------------------------------------------------------------------------------------
# 2.2 Multimodal sentiment on a clearly synthetic set
# --------------------------------------------------------------------------------------------------

SENTIMENT_WORDS = {
    "positive": ("great", "wonderful", "excellent", "lovely", "perfect", "brilliant"),
    "negative": ("awful", "terrible", "boring", "horrible", "dreadful", "dull"),
    "neutral": ("long", "new", "french", "late", "black", "short"),
}
SENTIMENT_NOUNS = ("film", "meal", "hotel", "concert", "book", "service", "trip", "game")
AUDIO_FEATURES = ("energy", "pitch_range", "pitch_mean", "speech_rate")
SENTIMENT_KINDS = ("plain", "neutral text", "sarcastic")


def synthetic_sentiment(n: int, seed: int = 0, kinds: Sequence[float] = (0.5, 0.25, 0.25),
                        sarcasm_cue: float = 2.5):
    """A **synthetic** utterance set: a sentence and four "voice" features per example, and a
    sentiment label (1 positive). Made up on purpose, so the evidence each modality carries is known:

    - *plain* (default 50%): the sentence's adjective has the label's polarity;
    - *neutral text* (25%): the adjective is neutral, only the voice helps;
    - *sarcastic* (25%): the adjective has the *opposite* polarity, and the voice is flat
      (``pitch_range`` lowered by ``sarcasm_cue`` standard deviations): only text and voice
      *together* give the label.

    ``energy`` is weakly higher for positive utterances (shift ±0.5, noise 1); ``pitch_mean`` and
    ``speech_rate`` are noise. Returns a ``pandas.DataFrame`` (text, the four features, kind, label).
    """
    import pandas as pd

    n = require_positive_int("n", n)
    require_type("kinds", kinds, (list, tuple))
    if len(kinds) != 3 or any(p < 0 for p in kinds) or not math.isclose(sum(kinds), 1.0):
        raise ValueError(f"kinds must be three probabilities (plain, neutral text, sarcastic) summing to 1, got {kinds}")
    sarcasm_cue = require_float("sarcasm_cue", sarcasm_cue, low=0.0)
    rng = np.random.default_rng(require_int("seed", seed, minimum=0))
    label = rng.integers(0, 2, n)
    kind = rng.choice(3, n, p=list(kinds))
    polarity = np.where(kind == 2, 1 - label, label)
    words = [SENTIMENT_WORDS["neutral" if k == 1 else ("positive" if p else "negative")]
             for k, p in zip(kind, polarity)]
    text = [f"the {rng.choice(SENTIMENT_NOUNS)} was {rng.choice(w)}" for w in words]
    audio = rng.normal(size=(n, 4))
    audio[:, 0] += np.where(label == 1, 0.5, -0.5)
    audio[:, 1] -= np.where(kind == 2, sarcasm_cue, 0.0)
    frame = pd.DataFrame(audio, columns=list(AUDIO_FEATURES))
    frame.insert(0, "text", text)
    frame["kind"] = [SENTIMENT_KINDS[k] for k in kind]
    frame["label"] = label
    return frame


def sentiment_fusion_table(train, test, seed: int = 0):
    """Accuracy of text only, voice only, late fusion (average of the two single-modality models'
    probabilities) and early fusion (one model on the concatenated features), overall and per kind.

    Every model is the same small MLP (scikit-learn), so only *where* the modalities meet differs.
    """
    import pandas as pd
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    for name, frame in (("train", train), ("test", test)):
        require_type(name, frame, pd.DataFrame)
        missing = {"text", "label", "kind", *AUDIO_FEATURES} - set(frame.columns)
        if missing:
            raise ValueError(f"{name} lacks columns {sorted(missing)}")
    seed = require_int("seed", seed, minimum=0)
    words = CountVectorizer(binary=True).fit(train["text"])
    scaler = StandardScaler().fit(train[list(AUDIO_FEATURES)])
    features = {
        split: {"text": words.transform(f["text"]).toarray(), "voice": scaler.transform(f[list(AUDIO_FEATURES)])}
        for split, f in (("train", train), ("test", test))
    }

    def fit(x: np.ndarray) -> MLPClassifier:
        return MLPClassifier((32,), max_iter=1000, early_stopping=True, random_state=seed).fit(x, train["label"])

    models = {m: fit(features["train"][m]) for m in ("text", "voice")}
    probs = {m: models[m].predict_proba(features["test"][m])[:, 1] for m in models}
    both = {s: np.hstack([features[s]["text"], features[s]["voice"]]) for s in features}
    preds = {
        "text only": probs["text"] > 0.5,
        "voice only": probs["voice"] > 0.5,
        "late fusion": (probs["text"] + probs["voice"]) / 2 > 0.5,
        "early fusion": fit(both["train"]).predict(both["test"]) == 1,
    }
    rows = {}
    for name, pred in preds.items():
        correct = pred.astype(int) == test["label"].to_numpy()
        kinds = {k: (test["kind"] == k).to_numpy() for k in SENTIMENT_KINDS}
        rows[name] = {"all": correct.mean(),
                      **{k: correct[mask].mean() if mask.any() else np.nan for k, mask in kinds.items()}}
    return pd.DataFrame(rows).T


# --------------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------------


def plot_digits(images, texts: Sequence[str], ncols: int = 4, *, title: str | None = None, width: float = 9.0):
    """Digits in a grid, each with its text (caption, question and answer) underneath; returns the figure."""
    import matplotlib.pyplot as plt

    _check_images("images", images)
    require_type("texts", texts, (list, tuple))
    if len(texts) != len(images):
        raise ValueError(f"texts must hold one string per image ({len(images)}), got {len(texts)}")
    ncols = require_positive_int("ncols", ncols)
    nrows = math.ceil(len(images) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, 2.0 * nrows), squeeze=False)
    for ax, image, text in zip(axes.flat, np.asarray(images), texts):
        ax.imshow(image[0], cmap="gray_r", vmin=0, vmax=1)
        ax.set_xlabel(text, fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        if not ax.images:
            ax.set_axis_off()
    if title:
        fig.suptitle(title)
    return fig


# --------------------------------------------------------------------------------------------------
# Recorded benchmark: the chapter's one-seed comparisons, repeated
# --------------------------------------------------------------------------------------------------


def _repeat(config: dict) -> dict:
    """Fusion comparison over ``seeds`` and label efficiency (SimCLR probe vs from scratch) over
    ``labels_per_class`` × ``label_draws`` for each pre-training seed."""
    from .data import digits_split
    from .runtime import seed_everything

    torch.set_num_threads(1)
    x_train, x_test, y_train, y_test = digits_split()
    qvocab = question_vocab()
    vqa_train, vqa_test = vqa_questions(y_train, seed=0), vqa_questions(y_test, seed=1)
    fusion: dict[str, dict[str, list[float]]] = {name: {t: [] for t in ("all", *QUESTION_TYPES)} for name in FUSIONS}
    for seed in config["seeds"]:
        for name in FUSIONS:
            seed_everything(seed)
            model, _ = train_vqa(name, x_train, vqa_train, qvocab, VQAConfig(steps=config["vqa_steps"], seed=seed))
            correct = vqa_predict(model, x_test, vqa_test, qvocab) == vqa_test.answers
            fusion[name]["all"].append(float(correct.mean()))
            for i, t in enumerate(QUESTION_TYPES):
                fusion[name][t].append(float(correct[vqa_test.qtype == i].mean()))
    methods = ("SimCLR probe", "from scratch, same augmentations", "from scratch, no augmentation")
    ssl: dict[str, dict[str, list[float]]] = {m: {str(k): [] for k in config["labels_per_class"]} for m in methods}
    x_test_t = torch.as_tensor(x_test)
    for seed in config["seeds"]:
        seed_everything(seed)
        tower, _ = simclr_pretrain(x_train, SSLConfig(steps=config["ssl_steps"], seed=seed))
        features_train, features_test = tower_features(tower, x_train), tower_features(tower, x_test)
        for per_class in config["labels_per_class"]:
            for draw in range(config["label_draws"]):
                idx = few_labels(y_train, per_class, seed=100 * seed + draw)
                ssl["SimCLR probe"][str(per_class)].append(linear_probe(features_train[idx], y_train[idx], features_test, y_test))
                for aug, method in ((True, methods[1]), (False, methods[2])):
                    model = train_supervised(x_train[idx], y_train[idx], SSLConfig(seed=seed), augmented=aug,
                                             steps=config["supervised_steps"])
                    with torch.no_grad():
                        pred = model.head(model.tower(x_test_t)[1]).argmax(1).numpy()
                    ssl[method][str(per_class)].append(float((pred == y_test).mean()))
    return {"fusion": fusion, "ssl": ssl}


def _benchmarks():
    from .benchmark import Benchmark

    return [Benchmark(
        "multimodal_repeat", _repeat,
        config={"seeds": [0, 1, 2], "vqa_steps": 600, "ssl_steps": 400, "supervised_steps": 300,
                "labels_per_class": [1, 5, 10, 20], "label_draws": 2},
        smoke_config={"seeds": [0], "vqa_steps": 5, "ssl_steps": 3, "supervised_steps": 3,
                      "labels_per_class": [1], "label_draws": 1},
        packages=("scikit-learn",),
    )]


BENCHMARKS = _benchmarks()

if __name__ == "__main__":
    import sys

    from .benchmark import cli

    if sys.argv[1:2] != ["benchmark"]:
        sys.exit("usage: python -m roadmap_lib.multimodal benchmark [names...] [--smoke] [--out PATH]")
    cli(BENCHMARKS, sys.argv[2:], prog="python -m roadmap_lib.multimodal benchmark")
