"""2.1.1 Unified representation: the article's sum fusion next to concatenation, gating and
cross-attention, each trained on the same bilingual visual-question-answering task, with their costs."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ..validation import require_choice, require_int, require_non_empty, require_positive_int, require_type
from .captions import DIGIT_WORDS, LANGUAGES, Vocab, check_labels, check_model_images
from .towers import ImageTower, TextTower, check_config, check_vocab, train_steps


class SumFusion(nn.Module):
    """The article's ``MultiModalEncoder``: project each modality, add, ReLU."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        dim = require_positive_int("dim", dim)
        self.text_fc, self.visual_fc = nn.Linear(dim, dim), nn.Linear(dim, dim)

    def forward(self, text, mask, text_vec, regions, image_vec):
        return F.relu(self.text_fc(text_vec) + self.visual_fc(image_vec))


class ConcatFusion(nn.Module):
    """Concatenate, then one linear layer and ReLU. Algebraically the same family as :class:`SumFusion`
    (``W[t; v] = W_t t + W_v v``): the chapter checks this numerically."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.fc = nn.Linear(2 * dim, require_positive_int("dim", dim))

    def forward(self, text, mask, text_vec, regions, image_vec):
        return F.relu(self.fc(torch.cat([text_vec, image_vec], dim=-1)))


class GatedFusion(nn.Module):
    """Gated multimodal unit (Arevalo et al., 2017): a sigmoid gate computed from both modalities mixes
    their ``tanh`` projections per feature, so the question can decide how much of the image to use."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        dim = require_positive_int("dim", dim)
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
        dim, heads = require_positive_int("dim", dim), require_positive_int("heads", heads)
        if dim % heads:  # else nn.MultiheadAttention fails with a bare AssertionError
            raise ValueError(f"dim ({dim}) must be divisible by heads ({heads})")
        self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(require_positive_int("regions", regions) * dim, dim)

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
        check_model_images("images", images)
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

    def __post_init__(self) -> None:
        """Batches pick the same rows from every field, so the fields must have one entry per question."""
        require_type("questions", self.questions, list)
        for name in ("image_index", "qtype", "language", "answers"):
            require_type(name, getattr(self, name), np.ndarray)
            if len(getattr(self, name)) != len(self.questions):
                raise ValueError(f"{name} must hold one entry per question ({len(self.questions)}), "
                                 f"got {len(getattr(self, name))}")

    def __len__(self) -> int:
        return len(self.questions)


def check_vqa_images(vqa: VQASet, images) -> None:
    """``images`` must be float32 digits and hold every image ``vqa``'s rows refer to (else an
    ``IndexError`` inside the batch lookup)."""
    require_type("vqa", vqa, VQASet)
    check_model_images("images", images)
    if len(vqa) and not 0 <= int(vqa.image_index.min()) <= int(vqa.image_index.max()) < len(images):
        raise ValueError(f"vqa refers to images {vqa.image_index.min()}..{vqa.image_index.max()}, "
                         f"but images holds {len(images)}")


def vqa_questions(labels, seed: int = 0) -> VQASet:
    """Every image gets every question type in both languages. For "is it k?", ``k`` is the true digit
    half the time and another digit otherwise, so "yes" and "no" are balanced and the answer depends
    on the question *and* the image together."""
    require_type("labels", labels, (np.ndarray, list))
    labels = check_labels("labels", labels, len(labels))
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

    def __post_init__(self) -> None:
        check_config(self)


def train_vqa(fusion: str, images, vqa: VQASet, vocab: Vocab, config: VQAConfig = VQAConfig()) -> tuple[VQAModel, list[float]]:
    """Train one :class:`VQAModel` with cross-entropy on random question batches; same seed, data and
    steps for every fusion, so differences come from the fusion operator alone."""
    require_choice("fusion", fusion, FUSIONS)
    check_vqa_images(vqa, images)
    require_type("vocab", vocab, Vocab)
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

    return model, train_steps(model, step_loss, config.steps, config.lr, f"VQA {fusion}")


@torch.no_grad()
def vqa_predict(model: VQAModel, images, vqa: VQASet, vocab: Vocab) -> np.ndarray:
    """Predicted answer ids for every row of ``vqa``."""
    require_type("model", model, VQAModel)
    check_vqa_images(vqa, images)
    check_vocab(model, vocab)
    images = torch.as_tensor(images)
    return model(images[torch.as_tensor(vqa.image_index)], vocab.encode(vqa.questions)).argmax(1).numpy()


def model_cost(model: nn.Module, *inputs: torch.Tensor, repeats: int = 20) -> dict[str, float]:
    """Parameters, forward FLOPs (``torch.utils.flop_counter``: matmuls and convolutions) and forward
    latency in milliseconds for the given inputs, the best of ``repeats`` runs (on a shared machine the
    minimum is the least disturbed by other processes, as ``timeit`` advises)."""
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
    require_type("model", model, nn.Module)
    require_non_empty("inputs", inputs)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model.eval()(*inputs)
    counts = counter.get_flop_counts()
    prefix = type(model).__name__
    return {name: int(sum(counts.get(f"{prefix}.{name}", {}).values())) for name, _ in model.named_children()}
