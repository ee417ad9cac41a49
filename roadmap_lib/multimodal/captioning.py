"""2.2 Image captioning: a bilingual GRU decoder conditioned on the image, scored by its content words."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..validation import require_choice, require_non_empty, require_positive_int, require_type
from .captions import (
    CAPTION_TEMPLATE,
    CONTENT_SLOTS,
    DIGIT_WORDS,
    EOS,
    LANGUAGES,
    PAD,
    SPECIALS,
    WORDS,
    PairedDigits,
    Vocab,
    check_model_images,
    check_props,
    render,
    tokenize,
)
from .towers import ImageTower, check_config, train_steps


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
        check_model_images("images", images)
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
        check_model_images("images", images)
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
    require_type("props", props, (list, tuple))
    require_non_empty("props", props)
    for i, p in enumerate(props):
        check_props(f"props[{i}]", p, CONTENT_SLOTS)  # the caption template names every slot
    require_type("vocab", vocab, Vocab)
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

    def __post_init__(self) -> None:
        check_config(self)
        require_positive_int("hidden", self.hidden)


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

    return model, train_steps(model, step_loss, config.steps, config.lr, "captioner")


def content_match(caption: str, props: dict[str, int], language: str) -> dict[str, bool]:
    """Per content slot, whether ``caption`` states the true value and no competing one.

    Why not BLEU alone: on one-template captions BLEU rewards the fixed function words; what matters is
    whether the digit, its parity, magnitude, ink and width were all said correctly.
    """
    require_type("caption", caption, str)
    check_props("props", props, CONTENT_SLOTS)
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
