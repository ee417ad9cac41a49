"""2.3 Model compression of the dual encoder: distillation into a smaller student, int8 weights."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from ..compression import state_dict_bytes  # re-exported: Chapter II measures its encoders the same way
from ..validation import require_type
from .captions import PairedDigits, Vocab
from .contrastive import ClipConfig, DualEncoder
from .towers import check_vocab, train_steps


def distil_dual_encoder(teacher: DualEncoder, data: PairedDigits, vocab: Vocab, config: ClipConfig) -> tuple[DualEncoder, list[float]]:
    """Train a smaller :class:`DualEncoder` (``config`` gives its size) to reproduce the teacher's
    image→text and text→image similarity distributions on each batch (Hinton et al., 2015, applied to
    the contrastive logits). The student's temperature is tied to the teacher's."""
    require_type("teacher", teacher, DualEncoder)
    require_type("data", data, PairedDigits)
    check_vocab(teacher, vocab)
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

    return student, train_steps(student, step_loss, config.steps, config.lr, "distillation")


def int8_weights(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose ``nn.Linear`` weights are stored as int8 with one scale per output
    channel (torchao's weight-only int8, the maintained successor of ``torch.ao`` quantization).
    Convolutions and embeddings stay float32."""
    require_type("model", model, nn.Module)
    # imported here: torchao logs start-up noise that only chapters using it should see
    from torchao.quantization import Int8WeightOnlyConfig, quantize_

    quantized = copy.deepcopy(model).eval()
    quantize_(quantized, Int8WeightOnlyConfig())
    return quantized
