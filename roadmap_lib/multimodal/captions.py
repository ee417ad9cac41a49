"""Paired data: real digit images with bilingual captions written from measured properties, the
tokenizer and vocabulary the text towers read, and a figure helper.

Images are scikit-learn's handwritten digits (real scans, 8×8). Captions are written from each image's
label *and* from properties measured on its pixels (stroke ink and glyph width, split at the median of
the image's own class so they say something the label does not), in English and Chinese, from several
templates; some templates are held out of training, so zero-shot prompts written with them test
generalisation rather than recall.

Tokenizer: words for English, single characters for Chinese (Chinese is written without spaces, and a
character vocabulary is what Chinese BERT uses). The book's MiniLM WordPiece vocabulary is English-only:
it maps most of these Chinese characters to ``[UNK]``, which the chapter shows.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..validation import require_choice, require_int, require_non_empty, require_positive_int, require_type


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


def check_images(name: str, images) -> None:
    require_type(name, images, (np.ndarray, torch.Tensor))
    if images.ndim != 4 or tuple(images.shape[1:]) != (1, 8, 8):
        raise ValueError(f"{name} must have shape (n, 1, 8, 8), got {tuple(images.shape)}")
    require_non_empty(name, images)


def check_model_images(name: str, images) -> None:
    """:func:`check_images` for images a tower will read: they must also be float32 like its weights
    (float64 or integer pixels otherwise fail inside the first convolution with PyTorch's message)."""
    check_images(name, images)
    float32 = images.dtype == (torch.float32 if isinstance(images, torch.Tensor) else np.float32)
    if not float32:
        raise TypeError(f"{name} must hold float32 pixels, got {images.dtype}")


def check_labels(name: str, labels, n: int) -> np.ndarray:
    require_type(name, labels, (np.ndarray, torch.Tensor, list))
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) to match the images, got {labels.shape}")
    if labels.size and labels.dtype.kind not in "iu":  # float labels would be truncated silently
        raise TypeError(f"{name} must hold integer digits, got dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{name} must hold digits 0..9, got values in [{labels.min()}, {labels.max()}]")
    return labels.astype(np.int64)


def check_props(name: str, props, slots: Sequence[str] = ("digit",)) -> None:
    """Properties as :meth:`PropertyThresholds.properties` writes them: known slots only, the ``slots``
    the caller reads present, ``digit`` in 0..9 and every other slot 0 or 1 (an index into :data:`WORDS`)."""
    require_type(name, props, dict)
    unknown = sorted(set(props) - set(CONTENT_SLOTS), key=str)
    if unknown:
        raise ValueError(f"{name} has unknown slots {unknown}; known: {', '.join(CONTENT_SLOTS)}")
    missing = [slot for slot in slots if slot not in props]
    if missing:
        raise ValueError(f"{name} lacks slots {missing}")
    for slot, value in props.items():
        require_int(f"{name}[{slot!r}]", value, minimum=0, maximum=9 if slot == "digit" else 1)


def stroke_features(images) -> np.ndarray:
    """Two measurements per image: ``ink`` (mean intensity: stroke thickness) and ``width`` (the
    intensity-weighted spread of column positions, in pixels). Shape ``(n, 2)``.

    Why these: both are visible in an 8×8 image, vary within every class, and need no labels.
    """
    check_images("images", images)
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

    def __post_init__(self) -> None:
        for name in ("ink", "width"):  # :meth:`properties` indexes both by digit
            require_type(name, getattr(self, name), np.ndarray)
            if getattr(self, name).shape != (10,):
                raise ValueError(f"{name} must hold one threshold per digit, shape (10,), got {getattr(self, name).shape}")

    @classmethod
    def fit(cls, images, labels) -> "PropertyThresholds":
        """Medians per class; why per class: a global split would make "bold" mostly mean "an 8"."""
        check_images("images", images)
        labels = check_labels("labels", labels, len(images))
        missing = sorted(set(range(10)) - set(labels.tolist()))
        if missing:
            raise ValueError(f"labels must contain every digit to fit thresholds; missing {missing}")
        feats = stroke_features(images)
        med = np.array([np.median(feats[labels == d], axis=0) for d in range(10)])
        return cls(ink=med[:, 0], width=med[:, 1])

    def properties(self, images, labels) -> list[dict[str, int]]:
        """Per image: ``digit``, ``ink`` (0 thin / 1 bold), ``width`` (0 / 1), ``parity``, ``magnitude``."""
        check_images("images", images)
        labels = check_labels("labels", labels, len(images))
        feats = stroke_features(images)
        return [
            {"digit": int(d), "ink": int(f[0] >= self.ink[d]), "width": int(f[1] >= self.width[d]),
             "parity": int(d % 2), "magnitude": int(d >= 5)}
            for f, d in zip(feats, labels)
        ]


def render(template: str, props: dict[str, int], language: str) -> str:
    """Fill a caption template with the words for ``props`` in ``language``."""
    require_type("template", template, str)
    check_props("props", props)
    require_choice("language", language, LANGUAGES)
    fields = {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
    if not fields <= set(props):
        raise ValueError(f"template uses slots {sorted(fields - set(props))} that props does not give")
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


@dataclass
class PairedDigits:
    """Digits with their captions: every image has one caption per (language, template)."""

    images: torch.Tensor  # (n, 1, 8, 8)
    labels: np.ndarray  # (n,)
    props: list[dict[str, int]]
    captions: dict[tuple[str, int], list[str]]  # (language, train template index) -> n captions

    def __post_init__(self) -> None:
        """Training indexes every field by the same random rows, so they must line up with ``images``."""
        require_type("images", self.images, torch.Tensor)
        check_model_images("images", self.images)
        check_labels("labels", self.labels, len(self.images))
        require_type("props", self.props, list)
        require_type("captions", self.captions, dict)
        for name, rows in (("props", self.props), *((f"captions[{k!r}]", v) for k, v in self.captions.items())):
            if len(rows) != len(self.images):
                raise ValueError(f"{name} must hold one entry per image ({len(self.images)}), got {len(rows)}")

    def caption_tokens(self, vocab: Vocab, max_len: int = 16) -> torch.Tensor:
        """``(n, k, max_len)``: the k training captions of each image as ids."""
        keys = sorted(self.captions)
        return torch.stack([vocab.encode(self.captions[k], max_len=max_len) for k in keys], dim=1)


def paired_digits(images, labels, thresholds: PropertyThresholds) -> PairedDigits:
    """Pair images with captions from every *training* template, in both languages."""
    check_images("images", images)
    labels = check_labels("labels", labels, len(images))
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


def plot_digits(images, texts: Sequence[str], ncols: int = 4, *, title: str | None = None, width: float = 9.0):
    """Digits in a grid, each with its text (caption, question and answer) underneath; returns the figure."""
    import matplotlib.pyplot as plt

    check_images("images", images)
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
