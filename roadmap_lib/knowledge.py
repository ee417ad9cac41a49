"""Part I.2 (知识增强): knowledge-graph embeddings, graph neural networks and knowledge-grounded answers.

The article's only code here is an untrained TransE that prints random distances. This module holds
what the chapter needs to make each claim run on real graphs:

- a small triple store (:class:`KnowledgeGraph`) for the benchmark graphs Nations and UMLS and for the
  article's own diagrams, which rejects unknown ids and splits that do not belong together;
- TransE (Bordes et al. 2013) trained with a margin ranking loss over corrupted triples, and link
  prediction evaluated the way the literature should: every entity ranked on both sides, raw *and*
  filtered, with the adjusted mean rank index (Berrendorf et al. 2020) against a random scorer;
- a graph convolutional network (Kipf & Welling 2017) in plain PyTorch and label propagation (Zhu &
  Ghahramani 2002) for Zachary's karate club;
- question answering grounded in retrieved facts (MiniLM retrieval over verbalised triples, TransE link
  prediction) against answering unaided.
"""

from __future__ import annotations

import copy
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import torch
from torch import nn

from . import benchmark
from .data import KG_DATASETS, KG_SPLITS, kg_triples, read_triples
from .runtime import num_threads, progress, seed_everything
from .validation import (
    require_callable,
    require_choice,
    require_float,
    require_int,
    require_keys,
    require_non_empty,
    require_positive_float,
    require_positive_int,
    require_seeds,
    require_type,
)

Triple = tuple[str, str, str]

# ==================================================================================================
# A small triple store
# ==================================================================================================
HAS_PART = "has_part"


def roadmap_triples() -> list[Triple]:
    """The article's 14 diagrams as ``(parent, "has_part", child)`` triples, labels as entity names.

    Why start here: every reader has seen these trees, so the step from a drawing to a set of facts
    (and later to vectors) is visible before the benchmark graphs with their unfamiliar names.
    """
    from .diagrams import article_diagrams

    triples = []
    for diagram in article_diagrams():
        graph = diagram.graph
        for parent, child in graph.edges:
            triples.append((graph.nodes[parent]["label"], HAS_PART, graph.nodes[child]["label"]))
    return triples


def _check_triple_list(name: str, triples: Any) -> list[Triple]:
    """A non-empty list of 3-tuples of non-empty strings, or a clear error naming ``name``."""
    require_type(name, triples, (list, tuple))
    require_non_empty(name, triples)
    for i, triple in enumerate(triples):
        if not isinstance(triple, (list, tuple)) or len(triple) != 3:
            raise ValueError(f"{name}[{i}] must be a (head, relation, tail) triple, got {triple!r}")
        if not all(isinstance(part, str) and part for part in triple):
            raise ValueError(f"{name}[{i}] must hold three non-empty strings, got {triple!r}")
    return [tuple(t) for t in triples]  # type: ignore[misc]


@dataclass(frozen=True, eq=False)
class KnowledgeGraph:
    """Entities and relations numbered once, and each split as an ``(n, 3)`` tensor of ``[h, r, t]`` ids.

    The vocabulary comes from the training split. A validation or test triple naming an entity or a
    relation never seen in training cannot be ranked by an embedding model, so :meth:`from_splits`
    rejects it (the usual sign of splits taken from two different graphs); so is a test triple that
    also sits in the training split (a leak that inflates every metric).
    """

    name: str
    entities: tuple[str, ...]
    relations: tuple[str, ...]
    splits: Mapping[str, torch.Tensor]

    @classmethod
    def from_splits(cls, name: str, splits: Mapping[str, Sequence[Triple]]) -> "KnowledgeGraph":
        """Build from string triples per split; ``splits`` must contain ``"train"``."""
        require_type("name", name, str)
        require_type("splits", splits, Mapping)
        if "train" not in splits:
            raise ValueError(f"splits must contain 'train', got {sorted(splits)}")
        for split in splits:
            require_choice("split name", split, KG_SPLITS)
        checked = {split: _check_triple_list(f"splits[{split!r}]", triples) for split, triples in splits.items()}
        train = checked["train"]
        entities = tuple(sorted({h for h, _, _ in train} | {t for _, _, t in train}))
        relations = tuple(sorted({r for _, r, _ in train}))
        entity_id = {e: i for i, e in enumerate(entities)}
        relation_id = {r: i for i, r in enumerate(relations)}
        train_set = set(train)
        tensors = {}
        for split, triples in checked.items():
            for number, (h, r, t) in enumerate(triples):
                for kind, value, known in (("head", h, entity_id), ("relation", r, relation_id),
                                           ("tail", t, entity_id)):
                    if value not in known:
                        raise ValueError(
                            f"mismatched splits: {split}[{number}] {(h, r, t)} has {kind} {value!r}, "
                            f"which the training split of {name!r} never mentions"
                        )
                if split != "train" and (h, r, t) in train_set:
                    raise ValueError(f"leaking splits: {split}[{number}] {(h, r, t)} is also a training triple")
            tensors[split] = torch.tensor(
                [[entity_id[h], relation_id[r], entity_id[t]] for h, r, t in triples], dtype=torch.long
            )
        return cls(name, entities, relations, tensors)

    @classmethod
    def from_files(cls, name: str, paths: Mapping[str, str | Path]) -> "KnowledgeGraph":
        """Build from tab-separated triple files, one per split (e.g. your own graph)."""
        require_type("paths", paths, Mapping)
        return cls.from_splits(name, {split: read_triples(path) for split, path in paths.items()})

    @property
    def num_entities(self) -> int:
        return len(self.entities)

    @property
    def num_relations(self) -> int:
        return len(self.relations)

    def triples(self, split: str) -> torch.Tensor:
        """The ``(n, 3)`` id tensor of one split."""
        require_choice("split", split, tuple(self.splits))
        return self.splits[split]

    def all_triples(self) -> torch.Tensor:
        """Every known true triple (all splits): what the *filtered* setting removes from the ranking."""
        return torch.cat([self.splits[s] for s in KG_SPLITS if s in self.splits])

    def decode(self, triples: torch.Tensor) -> list[Triple]:
        """Id triples back to strings (checks the ids are in range)."""
        triples = check_triples(triples, self.num_entities, self.num_relations)
        return [(self.entities[h], self.relations[r], self.entities[t]) for h, r, t in triples.tolist()]

    def summary(self) -> dict[str, int]:
        """Counts for a table: entities, relations and triples per split."""
        return {"entities": self.num_entities, "relations": self.num_relations,
                **{split: len(ids) for split, ids in self.splits.items()}}


def load_kg(name: str) -> KnowledgeGraph:
    """A benchmark graph (``"nations"`` or ``"umls"``) with its standard train/valid/test splits."""
    return KnowledgeGraph.from_splits(name, {split: kg_triples(name, split) for split in KG_SPLITS})


def isa_groups(kg: KnowledgeGraph, groups: Sequence[str]) -> list[str]:
    """For each entity, the first of ``groups`` it is known to be a kind of (``isa``), else ``"other"``.

    Used to colour UMLS concepts by the top of their type hierarchy (event, physical object, ...).
    """
    require_type("kg", kg, KnowledgeGraph)
    require_type("groups", groups, (list, tuple))  # a bare string would be read as one group per letter
    require_non_empty("groups", groups)
    if "isa" not in kg.relations:
        raise ValueError(f"kg {kg.name!r} has no 'isa' relation")
    parents: dict[str, set[str]] = {}
    for h, r, t in kg.decode(kg.all_triples()):
        if r == "isa":
            parents.setdefault(h, set()).add(t)
    return [next((g for g in groups if g in parents.get(e, ())), "other") for e in kg.entities]


def _check_ids(name: str, ids: Any, upper: int) -> torch.Tensor:
    """An integer id tensor with every value in ``[0, upper)``, or an error naming ``name``."""
    require_type(name, ids, torch.Tensor)
    if ids.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"{name} must be an integer (long) tensor, got dtype {ids.dtype}")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= upper):
        bad = int(ids.max()) if int(ids.max()) >= upper else int(ids.min())
        raise ValueError(f"{name} holds id {bad}, outside [0, {upper - 1}]")
    return ids.long()


def check_triples(triples: Any, num_entities: int, num_relations: int, name: str = "triples") -> torch.Tensor:
    """An ``(n, 3)`` long tensor of ``[h, r, t]`` ids, each within the graph's vocabulary."""
    require_type(name, triples, torch.Tensor)
    num_entities = require_positive_int("num_entities", num_entities)
    num_relations = require_positive_int("num_relations", num_relations)
    if triples.dim() != 2 or triples.shape[1] != 3:
        raise ValueError(f"{name} must have shape (n, 3) of [head, relation, tail] ids, got {tuple(triples.shape)}")
    _check_ids(f"{name} heads", triples[:, 0], num_entities)
    _check_ids(f"{name} relations", triples[:, 1], num_relations)
    _check_ids(f"{name} tails", triples[:, 2], num_entities)
    return triples.long()


# ==================================================================================================
# TransE
# ==================================================================================================
class TransE(nn.Module):
    """TransE: a fact ``(h, r, t)`` is plausible when ``e_h + w_r ≈ e_t``.

    The score is the *negative* distance ``-||e_h + w_r - e_t||_p``, so that higher means more
    plausible everywhere in this module (ranking, losses, answers). The article's class returned the
    distance itself, where lower is better: an easy sign error once it meets a ranking loss.
    """

    def __init__(self, num_entities: int, num_relations: int, dim: int = 50, p_norm: int = 1) -> None:
        super().__init__()
        self.num_entities = require_positive_int("num_entities", num_entities)
        self.num_relations = require_positive_int("num_relations", num_relations)
        self.dim = require_positive_int("dim", dim)
        self.p_norm = require_choice("p_norm", p_norm, (1, 2))
        self.entity = nn.Embedding(num_entities, dim)
        self.relation = nn.Embedding(num_relations, dim)
        # Bordes et al.'s initialisation: uniform in ±6/√d, relations normalised once.
        bound = 6.0 / dim**0.5
        nn.init.uniform_(self.entity.weight, -bound, bound)
        nn.init.uniform_(self.relation.weight, -bound, bound)
        with torch.no_grad():
            self.relation.weight.div_(self.relation.weight.norm(p=2, dim=1, keepdim=True))
        self.normalize_entities_()

    @torch.no_grad()
    def normalize_entities_(self) -> None:
        """Project every entity vector onto the unit sphere (TransE's constraint).

        Without it the loss has a trivial way out: push all entities apart and every margin is met,
        so norms grow without bound and the distances stop meaning anything.
        """
        self.entity.weight.div_(self.entity.weight.norm(p=2, dim=1, keepdim=True).clamp(min=1e-12))

    def _distance(self, translated: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return (translated - targets).norm(p=self.p_norm, dim=-1)

    def forward(self, heads: torch.Tensor, relations: torch.Tensor, tails: torch.Tensor) -> torch.Tensor:
        """Scores (negative distances) of the triples ``(heads[i], relations[i], tails[i])``."""
        heads = _check_ids("heads", heads, self.num_entities)
        relations = _check_ids("relations", relations, self.num_relations)
        tails = _check_ids("tails", tails, self.num_entities)
        if not heads.shape == relations.shape == tails.shape:
            raise ValueError(
                f"heads, relations and tails must have one shape, got {tuple(heads.shape)}, "
                f"{tuple(relations.shape)}, {tuple(tails.shape)}"
            )
        return -self._distance(self.entity(heads) + self.relation(relations), self.entity(tails))

    def score_tails(self, heads: torch.Tensor, relations: torch.Tensor) -> torch.Tensor:
        """``(n, num_entities)`` scores of ``(heads[i], relations[i], e)`` for every entity ``e``."""
        heads = _check_ids("heads", heads, self.num_entities)
        relations = _check_ids("relations", relations, self.num_relations)
        translated = self.entity(heads) + self.relation(relations)
        return -torch.cdist(translated, self.entity.weight, p=self.p_norm)

    def score_heads(self, relations: torch.Tensor, tails: torch.Tensor) -> torch.Tensor:
        """``(n, num_entities)`` scores of ``(e, relations[i], tails[i])`` for every entity ``e``.

        ``||e + w - t|| = ||e - (t - w)||``, so the head side is a distance to ``t - w``.
        """
        relations = _check_ids("relations", relations, self.num_relations)
        tails = _check_ids("tails", tails, self.num_entities)
        target = self.entity(tails) - self.relation(relations)
        return -torch.cdist(target, self.entity.weight, p=self.p_norm)


def corrupt(triples: torch.Tensor, num_entities: int, num_negatives: int, generator: torch.Generator) -> torch.Tensor:
    """``num_negatives`` corrupted copies of each triple: head or tail (coin flip) replaced at random.

    Returns ``(n, num_negatives, 3)``. The replacement is uniform over all entities, so now and then
    a "negative" is a true fact or the triple itself; with 14 entities that happens often, which is
    one reason Nations is hard for a margin loss.
    """
    require_type("triples", triples, torch.Tensor)
    if triples.dim() != 2 or triples.shape[1] != 3:
        raise ValueError(f"triples must have shape (n, 3), got {tuple(triples.shape)}")
    num_entities = require_positive_int("num_entities", num_entities)
    _check_ids("triples heads", triples[:, 0], num_entities)
    _check_ids("triples tails", triples[:, 2], num_entities)
    num_negatives = require_positive_int("num_negatives", num_negatives)
    require_type("generator", generator, torch.Generator)
    negatives = triples.unsqueeze(1).repeat(1, num_negatives, 1)
    random_entities = torch.randint(num_entities, negatives.shape[:2], generator=generator)
    corrupt_head = torch.rand(negatives.shape[:2], generator=generator) < 0.5
    negatives[..., 0] = torch.where(corrupt_head, random_entities, negatives[..., 0])
    negatives[..., 2] = torch.where(corrupt_head, negatives[..., 2], random_entities)
    return negatives


# ==================================================================================================
# Link prediction: ranks and metrics
# ==================================================================================================
HITS_AT = (1, 3, 10)


def realistic_ranks(scores: torch.Tensor, targets: torch.Tensor, exclude: torch.Tensor | None = None) -> torch.Tensor:
    """Rank of ``targets[i]`` among ``scores[i]`` (1 = best), ties counted as their average position.

    ``exclude`` (same shape as ``scores``, bool) removes candidates from the ranking: the *filtered*
    setting passes every other known true answer, so a model is not punished for ranking another
    correct fact first. The target itself is never excluded. Why average ties: a model that gives
    every entity the same score would otherwise get rank 1 (optimistic) and a perfect MRR.
    """
    require_type("scores", scores, torch.Tensor)
    if scores.dim() != 2:
        raise ValueError(f"scores must be (queries, candidates), got shape {tuple(scores.shape)}")
    targets = _check_ids("targets", targets, scores.shape[1])
    if targets.shape != (scores.shape[0],):
        raise ValueError(f"targets must have shape ({scores.shape[0]},), got {tuple(targets.shape)}")
    if torch.isnan(scores).any():
        raise ValueError("scores contain NaN; a NaN score cannot be ranked")
    true_scores = scores.gather(1, targets.unsqueeze(1))
    if exclude is not None:
        require_type("exclude", exclude, torch.Tensor)
        if exclude.shape != scores.shape or exclude.dtype != torch.bool:
            raise ValueError(f"exclude must be a bool tensor of shape {tuple(scores.shape)}")
        keep_target = torch.zeros_like(exclude).scatter_(1, targets.unsqueeze(1), True)
        scores = scores.masked_fill(exclude & ~keep_target, float("-inf"))
    better = (scores > true_scores).sum(1)
    tied = (scores == true_scores).sum(1)  # includes the target itself
    return better.double() + (tied.double() + 1) / 2


def rank_metrics(ranks: torch.Tensor, num_candidates: torch.Tensor | int) -> dict[str, float]:
    """MRR, Hits@1/3/10, mean rank and the adjusted mean rank index (AMRI) of a set of ranks.

    AMRI = 1 − (MR − 1) / (E[MR] − 1), where E[MR] = mean of (candidates + 1)/2 is what a random
    scorer would get (Berrendorf et al. 2020): 1 is perfect, 0 is chance, negative is worse than
    chance. It is the one number here that means the same on 14 entities as on 14,000.
    """
    require_type("ranks", ranks, torch.Tensor)
    require_non_empty("ranks", ranks)
    ranks = ranks.double().flatten()
    candidates = torch.as_tensor(num_candidates, dtype=torch.float64).expand_as(ranks)
    if (ranks < 1).any() or (ranks > candidates).any():
        raise ValueError("ranks must lie in [1, num_candidates]")
    expected = ((candidates + 1) / 2).mean()
    mean_rank = ranks.mean()
    metrics = {"MRR": float((1 / ranks).mean())}
    metrics.update({f"Hits@{k}": float((ranks <= k).double().mean()) for k in HITS_AT})
    metrics["MR"] = float(mean_rank)
    metrics["AMRI"] = float(1 - (mean_rank - 1) / (expected - 1)) if expected > 1 else float("nan")
    return metrics


def random_metrics(num_candidates: torch.Tensor | int) -> dict[str, float]:
    """The *expected* metrics of a scorer that ranks uniformly at random (exact, not sampled).

    With n candidates the rank is uniform on 1..n: E[1/rank] = H_n / n, P(rank ≤ k) = min(k, n)/n,
    E[rank] = (n + 1)/2, so AMRI is 0 by construction.
    """
    if not isinstance(num_candidates, torch.Tensor):
        require_int("num_candidates", num_candidates)
    elif num_candidates.dtype not in (torch.int64, torch.int32):  # a float count would be truncated silently
        raise TypeError(f"num_candidates must be an integer tensor, got dtype {num_candidates.dtype}")
    candidates = torch.as_tensor(num_candidates, dtype=torch.long).flatten()
    require_non_empty("num_candidates", candidates)
    if (candidates < 1).any():
        raise ValueError("num_candidates must be >= 1")
    largest = int(candidates.max())
    harmonic = torch.cumsum(1 / torch.arange(1, largest + 1, dtype=torch.float64), 0)
    n = candidates.double()
    metrics = {"MRR": float((harmonic[candidates - 1] / n).mean())}
    metrics.update({f"Hits@{k}": float((torch.clamp(n, max=k) / n).mean()) for k in HITS_AT})
    metrics["MR"] = float(((n + 1) / 2).mean())
    metrics["AMRI"] = 0.0
    return metrics


def _known_mask(queries: torch.Tensor, known: torch.Tensor, num_entities: int, num_relations: int,
                side: str) -> torch.Tensor:
    """``(n, num_entities)`` bool: which candidates complete query ``i`` into a known true triple.

    Triples are hashed to one integer ``(h·R + r)·E + t`` so the lookup is a single ``torch.isin``
    (memory grows with queries × entities, not entities² × relations).
    """
    def key(h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (h * num_relations + r) * num_entities + t

    known_keys = key(known[:, 0], known[:, 1], known[:, 2])
    candidates = torch.arange(num_entities)
    if side == "tail":
        keys = key(queries[:, :1], queries[:, 1:2], candidates)
    else:
        keys = key(candidates, queries[:, 1:2], queries[:, 2:3])
    return torch.isin(keys, known_keys)


def toy_city_graph() -> tuple[KnowledgeGraph, TransE]:
    """Seven entities with hand-placed 2-D TransE vectors, small enough to rank with a pencil.

    Countries sit at x = 0, their cities near x = 1, and ``has_city`` translates by (1, 0). The
    test asks for Nice and Munich; training already knows Paris, Lyon (France) and Berlin (Germany),
    which the model rightly places *closer* to ``france + has_city``. Raw ranking counts those true
    cities as errors (Nice ranks 3rd, Munich 2nd); filtered ranking removes them (both rank 1st).
    """
    cities = {"paris": "france", "lyon": "france", "nice": "france", "berlin": "germany", "munich": "germany"}
    train = [(city, "in_country", country) for city, country in cities.items()]
    train += [("france", "has_city", "paris"), ("france", "has_city", "lyon"), ("germany", "has_city", "berlin")]
    test = [("france", "has_city", "nice"), ("germany", "has_city", "munich")]
    kg = KnowledgeGraph.from_splits("toy cities", {"train": train, "test": test})
    position = {"france": (0.0, 0.0), "germany": (0.0, 2.0), "paris": (1.0, 0.0), "lyon": (1.2, -0.3),
                "nice": (0.8, 0.5), "berlin": (1.0, 2.0), "munich": (1.3, 2.4)}
    translation = {"has_city": (1.0, 0.0), "in_country": (-1.0, 0.0)}
    model = TransE(kg.num_entities, kg.num_relations, dim=2, p_norm=1)
    with torch.no_grad():
        model.entity.weight.copy_(torch.tensor([position[e] for e in kg.entities]))
        model.relation.weight.copy_(torch.tensor([translation[r] for r in kg.relations]))
    return kg, model.eval()


@torch.no_grad()
def link_prediction_ranks(
    score_tails: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    score_heads: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    triples: torch.Tensor,
    num_entities: int,
    num_relations: int,
    *,
    known: torch.Tensor | None = None,
    batch_size: int = 512,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Ranks of the true tail (query ``(h, r, ?)``) and true head (``(?, r, t)``) of every triple.

    Returns ``(ranks, candidates)``, each of length ``2 n`` (tail queries first). ``known=None`` is the
    *raw* setting; passing every known true triple gives the *filtered* one, where ``candidates``
    shrinks by the other true answers. The scorers take id tensors and return ``(batch, entities)``.
    """
    require_callable("score_tails", score_tails)
    require_callable("score_heads", score_heads)
    triples = check_triples(triples, num_entities, num_relations)
    if known is not None:
        known = check_triples(known, num_entities, num_relations, name="known")
    batch_size = require_positive_int("batch_size", batch_size)
    ranks, candidates = [], []
    for side in ("tail", "head"):
        for start in range(0, len(triples), batch_size):
            batch = triples[start : start + batch_size]
            if side == "tail":
                scores, targets = score_tails(batch[:, 0], batch[:, 1]), batch[:, 2]
            else:
                scores, targets = score_heads(batch[:, 1], batch[:, 2]), batch[:, 0]
            # A scorer for another graph returns another width: ranks would silently count wrong candidates.
            require_type(f"score_{side}s' result", scores, torch.Tensor)
            if scores.shape != (len(batch), num_entities):
                raise ValueError(f"score_{side}s must return (batch, num_entities) = {(len(batch), num_entities)} "
                                 f"scores, got {tuple(scores.shape)}")
            if known is None:
                exclude = None
                candidates.append(torch.full((len(batch),), num_entities))
            else:
                exclude = _known_mask(batch, known, num_entities, num_relations, side)
                exclude.scatter_(1, targets.unsqueeze(1), False)
                candidates.append(num_entities - exclude.sum(1))
            ranks.append(realistic_ranks(scores, targets, exclude))
    return torch.cat(ranks), torch.cat(candidates)


def _check_model_fits(model: TransE, kg: KnowledgeGraph) -> None:
    """A TransE trained on one graph scores another graph's ids as if they were its own: refuse."""
    require_type("model", model, TransE)
    require_type("kg", kg, KnowledgeGraph)
    if (model.num_entities, model.num_relations) != (kg.num_entities, kg.num_relations):
        raise ValueError(
            f"model was built for {model.num_entities} entities / {model.num_relations} relations, "
            f"but {kg.name!r} has {kg.num_entities} / {kg.num_relations}"
        )


def evaluate_link_prediction(model: TransE, kg: KnowledgeGraph, split: str = "test") -> dict[str, dict[str, float]]:
    """Raw and filtered metrics of ``model`` on a split, each beside a random scorer's expectation."""
    _check_model_fits(model, kg)
    triples = kg.triples(split)
    was_training = model.training
    model.eval()
    results = {}
    for setting, known in (("raw", None), ("filtered", kg.all_triples())):
        ranks, candidates = link_prediction_ranks(model.score_tails, model.score_heads, triples,
                                                  kg.num_entities, kg.num_relations, known=known)
        results[setting] = rank_metrics(ranks, candidates)
        results[f"random ({setting})"] = random_metrics(candidates)
    model.train(was_training)
    return results


def results_frame(results: Mapping[str, Mapping[str, float]], digits: int = 3):
    """:func:`evaluate_link_prediction`'s output as a table: one row per setting, raw beside its chance
    level, then filtered beside its chance level."""
    import pandas as pd

    require_type("results", results, Mapping)
    order = [name for name in ("raw", "random (raw)", "filtered", "random (filtered)") if name in results]
    if not order:
        raise ValueError(f"results must hold 'raw' and/or 'filtered' metrics, got {sorted(results)}")
    return pd.DataFrame({name: results[name] for name in order}).T.round(require_int("digits", digits, minimum=0))


@dataclass(frozen=True)
class TransEConfig:
    """Every hyper-parameter of a TransE run, named in one place (and recorded with benchmark results)."""

    dim: int = 50
    p_norm: int = 1
    margin: float = 1.0
    num_negatives: int = 4
    lr: float = 0.01
    batch_size: int = 128
    max_epochs: int = 300
    eval_every: int = 10  # epochs between validation checks (early stopping)
    patience: int = 5  # validation checks without improvement before stopping
    normalize_entities: bool = True  # TransE's unit-norm constraint (off only to show why it is there)
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("dim", "num_negatives", "batch_size", "max_epochs", "eval_every", "patience"):
            require_positive_int(name, getattr(self, name))
        require_choice("p_norm", self.p_norm, (1, 2))
        require_positive_float("margin", self.margin)
        require_positive_float("lr", self.lr)
        require_type("normalize_entities", self.normalize_entities, bool)
        require_int("seed", self.seed, minimum=0)


@dataclass
class TrainedTransE:
    """A trained model, its validation curve and what it cost."""

    model: TransE
    config: TransEConfig
    history: list[dict[str, float]]  # one row per validation check: epoch, loss, valid MRR, mean entity norm
    best_epoch: int
    cpu_seconds: float  # process CPU time (all threads), the honest cost on a shared machine


def validation_mrr(model: TransE, kg: KnowledgeGraph, split: str = "valid") -> float:
    """Filtered MRR on a split: the early-stopping signal."""
    _check_model_fits(model, kg)
    ranks, candidates = link_prediction_ranks(model.score_tails, model.score_heads, kg.triples(split),
                                              kg.num_entities, kg.num_relations, known=kg.all_triples())
    return rank_metrics(ranks, candidates)["MRR"]


def train_transe(kg: KnowledgeGraph, config: TransEConfig = TransEConfig(), *, show_progress: bool = True) -> TrainedTransE:
    """Train TransE on ``kg``'s training split; keep the weights of the best validation MRR.

    Each epoch: shuffle, and for each batch corrupt every triple ``num_negatives`` times, then take
    Adam steps on the margin ranking loss ``max(0, margin − score(pos) + score(neg))`` (PyTorch's
    ``nn.MarginRankingLoss``), re-projecting entities onto the unit sphere before each step.
    Every ``eval_every`` epochs the filtered validation MRR decides whether to keep the weights;
    ``patience`` checks without improvement end the run (early stopping).
    """
    require_type("kg", kg, KnowledgeGraph)
    require_type("config", config, TransEConfig)
    if "valid" not in kg.splits:
        raise ValueError(f"{kg.name!r} has no 'valid' split to early-stop on")
    # Tables of a few thousand numbers: a second thread only adds synchronisation (and on a shared
    # machine, spinning), so TransE trains single-threaded on the CPU.
    with num_threads(1):
        return _train_transe(kg, config, show_progress)


def _train_transe(kg: KnowledgeGraph, config: TransEConfig, show_progress: bool) -> TrainedTransE:
    start = time.process_time()
    seed_everything(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    model = TransE(kg.num_entities, kg.num_relations, config.dim, config.p_norm)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    loss_fn = nn.MarginRankingLoss(margin=config.margin)
    best_mrr, best_epoch, best_state, checks_since_best = -1.0, 0, None, 0
    history: list[dict[str, float]] = []
    epochs = range(1, config.max_epochs + 1)
    for epoch in progress(epochs, desc=f"TransE on {kg.name}") if show_progress else epochs:
        loss = _transe_epoch(model, kg, config, optimizer, loss_fn, generator)
        if epoch % config.eval_every and epoch != config.max_epochs:
            continue
        if config.normalize_entities:
            model.normalize_entities_()
        model.eval()
        mrr = validation_mrr(model, kg)
        history.append({"epoch": epoch, "loss": loss, "valid_mrr": mrr,
                        "entity_norm": model.entity.weight.norm(dim=1).mean().item()})
        if mrr > best_mrr:
            best_mrr, best_epoch, best_state, checks_since_best = mrr, epoch, copy.deepcopy(model.state_dict()), 0
        else:
            checks_since_best += 1
            if checks_since_best >= config.patience:
                break
    model.load_state_dict(best_state)
    model.eval()
    return TrainedTransE(model, config, history, best_epoch, time.process_time() - start)


def _transe_epoch(model: TransE, kg: KnowledgeGraph, config: TransEConfig, optimizer: torch.optim.Optimizer,
                  loss_fn: nn.MarginRankingLoss, generator: torch.Generator) -> float:
    """One pass over the shuffled training triples; returns the mean loss."""
    model.train()
    train = kg.triples("train")
    order = torch.randperm(len(train), generator=generator)
    total = 0.0
    for begin in range(0, len(train), config.batch_size):
        positives = train[order[begin : begin + config.batch_size]]
        negatives = corrupt(positives, kg.num_entities, config.num_negatives, generator).reshape(-1, 3)
        if config.normalize_entities:
            model.normalize_entities_()
        # Each positive is compared with each of its own corruptions: target +1 means
        # "the first argument (the positive's score) should be higher by at least the margin".
        positive_scores = model(*positives.T).repeat_interleave(config.num_negatives)
        negative_scores = model(*negatives.T)
        loss = loss_fn(positive_scores, negative_scores, torch.ones_like(positive_scores))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(positives)
    return total / len(train)


# ==================================================================================================
# Graph convolutional network and label propagation
# ==================================================================================================
def karate_club() -> tuple[nx.Graph, torch.Tensor, tuple[str, ...]]:
    """Zachary's karate club (34 members, 78 friendships) and the faction each member joined.

    Returns ``(graph, labels, class_names)`` with ``labels[i]`` the faction of node ``i``
    (0 = "Mr. Hi", the instructor's; 1 = "Officer", the administrator's). The graph is unweighted:
    networkx attaches Zachary's interaction counts as ``weight``, which the GCN literature ignores.
    Source: Zachary (1977), bundled with networkx (BSD-3-Clause).
    """
    original = nx.karate_club_graph()
    graph = nx.Graph()
    graph.add_nodes_from(sorted(original.nodes))
    graph.add_edges_from(original.edges)
    class_names = ("Mr. Hi", "Officer")
    labels = torch.tensor([class_names.index(original.nodes[n]["club"]) for n in graph.nodes])
    return graph, labels, class_names


def _check_graph(graph: Any) -> nx.Graph:
    require_type("graph", graph, nx.Graph)
    if graph.is_directed():
        raise ValueError("graph must be undirected")
    if graph.number_of_nodes() == 0:
        raise ValueError("graph has no nodes")
    if sorted(graph.nodes) != list(range(graph.number_of_nodes())):
        raise ValueError("graph nodes must be the integers 0..n-1 (use nx.convert_node_labels_to_integers)")
    return graph


def adjacency(graph: nx.Graph) -> torch.Tensor:
    """Dense 0/1 adjacency matrix ``A`` (rows and columns in node order 0..n-1)."""
    graph = _check_graph(graph)
    n = graph.number_of_nodes()
    matrix = torch.zeros(n, n)
    for u, v in graph.edges:
        matrix[u, v] = matrix[v, u] = 1.0
    return matrix


def normalized_adjacency(graph: nx.Graph) -> torch.Tensor:
    """Kipf & Welling's propagation matrix  Â = D̃^{-1/2} (A + I) D̃^{-1/2},  D̃ the degrees of A + I.

    The self-loop keeps a node's own features in its update; the symmetric normalisation keeps
    repeated propagation from blowing up (high-degree nodes) or vanishing (leaves).
    """
    with_loops = adjacency(graph) + torch.eye(graph.number_of_nodes())
    inv_sqrt_degree = with_loops.sum(1).rsqrt()
    return inv_sqrt_degree[:, None] * with_loops * inv_sqrt_degree[None, :]


class GCNLayer(nn.Module):
    """One graph convolution:  H' = Â H W  (a linear map, then an average over each neighbourhood)."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.linear = nn.Linear(require_positive_int("in_features", in_features),
                                require_positive_int("out_features", out_features))

    def forward(self, features: torch.Tensor, propagation: torch.Tensor) -> torch.Tensor:
        return propagation @ self.linear(features)


class GCN(nn.Module):
    """Two-layer GCN for node classification: ``Â ReLU(Â X W₀) W₁`` → class logits.

    Passing the identity as ``propagation`` removes the graph and leaves an ordinary two-layer MLP
    with the same parameters: the fairest "no graph" baseline there is.
    """

    def __init__(self, in_features: int, hidden: int, num_classes: int, dropout: float = 0.5) -> None:
        super().__init__()
        self.first = GCNLayer(in_features, hidden)
        self.second = GCNLayer(hidden, num_classes)
        self.dropout = nn.Dropout(require_float("dropout", dropout, low=0.0, high=1.0, high_inclusive=False))

    def _check(self, features: torch.Tensor, propagation: torch.Tensor) -> None:
        """Shapes agree: ``features`` is (nodes, in_features) and ``propagation`` (nodes, nodes)."""
        require_type("features", features, torch.Tensor)
        require_type("propagation", propagation, torch.Tensor)
        if features.dim() != 2 or features.shape[1] != self.first.linear.in_features:
            raise ValueError(f"features must be (nodes, {self.first.linear.in_features}), got {tuple(features.shape)}")
        n = features.shape[0]
        if propagation.shape != (n, n):
            raise ValueError(f"propagation must be ({n}, {n}) for {n} nodes, got {tuple(propagation.shape)}")

    def hidden(self, features: torch.Tensor, propagation: torch.Tensor) -> torch.Tensor:
        """The first layer's node embeddings (what the chapter plots)."""
        self._check(features, propagation)
        return torch.relu(self.first(self.dropout(features), propagation))

    def forward(self, features: torch.Tensor, propagation: torch.Tensor) -> torch.Tensor:
        return self.second(self.dropout(self.hidden(features, propagation)), propagation)


def _check_node_labels(labels: Any, labelled: Any, num_nodes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Class ids (one per node, ≥ 0) and the distinct nodes whose label may be used for training."""
    require_type("labels", labels, torch.Tensor)
    if labels.shape != (num_nodes,):
        raise ValueError(f"labels must have shape ({num_nodes},), one per node, got {tuple(labels.shape)}")
    labels = _check_ids("labels", labels, max(int(labels.max()) + 1, 1) if labels.numel() else 1)
    labelled = _check_ids("labelled", labelled, num_nodes)
    require_non_empty("labelled", labelled)
    if labelled.dim() != 1 or len(set(labelled.tolist())) != len(labelled):
        raise ValueError("labelled must be a 1-D tensor of distinct node ids")
    return labels, labelled


def train_node_classifier(
    model: GCN,
    features: torch.Tensor,
    propagation: torch.Tensor,
    labels: torch.Tensor,
    labelled: torch.Tensor,
    *,
    epochs: int = 200,
    lr: float = 0.01,
    weight_decay: float = 5e-4,
    seed: int = 0,
) -> list[float]:
    """Semi-supervised training: cross-entropy on the ``labelled`` nodes only; returns the loss curve.

    The other nodes still shape the result through ``propagation``: that is the whole point.
    """
    require_type("model", model, GCN)
    require_type("features", features, torch.Tensor)
    model._check(features, propagation)
    labels, labelled = _check_node_labels(labels, labelled, features.shape[0])
    epochs = require_positive_int("epochs", epochs)
    torch.manual_seed(require_int("seed", seed, minimum=0))
    optimizer = torch.optim.Adam(model.parameters(), lr=require_positive_float("lr", lr),
                                 weight_decay=require_float("weight_decay", weight_decay, low=0.0))
    losses = []
    model.train()
    with num_threads(1):  # a 34-node graph: a second thread only adds synchronisation
        for _ in range(epochs):
            loss = nn.functional.cross_entropy(model(features, propagation)[labelled], labels[labelled])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    model.eval()
    return losses


def label_propagation(graph: nx.Graph, labels: torch.Tensor, labelled: torch.Tensor, *, max_iter: int = 30) -> torch.Tensor:
    """Zhu & Ghahramani's label propagation: every unlabelled node repeatedly takes the average label
    distribution of its neighbours while the labelled nodes stay clamped. Returns predicted classes.

    No parameters are learned; it is the graph-only baseline a GCN has to beat. With the same
    ``max_iter`` this is exactly networkx's ``node_classification.harmonic_function``.
    """
    graph = _check_graph(graph)
    labels, labelled = _check_node_labels(labels, labelled, graph.number_of_nodes())
    max_iter = require_positive_int("max_iter", max_iter)
    a = adjacency(graph).double()
    transition = a / a.sum(1, keepdim=True).clamp(min=1)
    clamped = torch.zeros(len(labels), int(labels.max()) + 1, dtype=torch.float64)
    clamped[labelled, labels[labelled]] = 1.0
    transition[labelled] = 0.0  # labelled rows take no input: they are reset to their label below
    scores = torch.zeros_like(clamped)
    for _ in range(max_iter):
        scores = transition @ scores + clamped
    return scores.argmax(1)


def sample_labelled(labels: torch.Tensor, per_class: int, generator: torch.Generator) -> torch.Tensor:
    """``per_class`` random nodes of every class: the labelled set of a semi-supervised draw."""
    labels = _check_ids("labels", labels, int(labels.max()) + 1 if isinstance(labels, torch.Tensor) and labels.numel() else 1)
    per_class = require_positive_int("per_class", per_class)
    require_type("generator", generator, torch.Generator)
    chosen = []
    for label in range(int(labels.max()) + 1):
        members = torch.nonzero(labels == label).flatten()
        if len(members) < per_class:
            raise ValueError(f"class {label} has {len(members)} nodes, fewer than per_class={per_class}")
        chosen.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
    return torch.cat(chosen)


def compare_node_classifiers(graph: nx.Graph, labels: torch.Tensor, labelled: torch.Tensor, *, hidden: int = 16,
                             seed: int = 0) -> tuple[dict[str, float], GCN]:
    """Accuracy on the *unlabelled* nodes of a GCN, the same network without the graph (Â = I, an
    MLP) and label propagation, all given the same labelled nodes and one-hot node features.

    Returns the accuracies and the trained GCN (for plotting its embeddings).
    """
    graph = _check_graph(graph)
    n = graph.number_of_nodes()
    labels, labelled = _check_node_labels(labels, labelled, n)
    hidden = require_positive_int("hidden", hidden)
    seed = require_int("seed", seed, minimum=0)
    unlabelled = torch.ones(n, dtype=torch.bool)
    unlabelled[labelled] = False
    features, num_classes = torch.eye(n), int(labels.max()) + 1

    def score(predicted: torch.Tensor) -> float:
        return (predicted[unlabelled] == labels[unlabelled]).double().mean().item()

    accuracies, models = {}, {}
    for name, propagation in (("GCN", normalized_adjacency(graph)), ("MLP (no graph)", torch.eye(n))):
        torch.manual_seed(seed)
        models[name] = GCN(n, hidden, num_classes)
        train_node_classifier(models[name], features, propagation, labels, labelled, seed=seed)
        with torch.no_grad():
            accuracies[name] = score(models[name](features, propagation).argmax(1))
    accuracies["label propagation"] = score(label_propagation(graph, labels, labelled))
    return accuracies, models["GCN"]


# ==================================================================================================
# Knowledge-grounded question answering
# ==================================================================================================
#: UMLS relations the QA demo asks about, each as (question about the tail, question about the head,
#: fact sentence). Templated questions keep the demo honest about what it measures (retrieval and
#: inference, not language understanding); six relations keep the fact store small enough to embed
#: in seconds. Both directions are asked because UMLS answers are broad types: "What is X a kind of?"
#: is often answered by "entity", while "What is a kind of Y?" needs knowledge of Y.
QA_TEMPLATES: dict[str, tuple[str, str, str]] = {
    "isa": ("What is {head} a kind of?", "What is a kind of {tail}?", "{head} is a kind of {tail}."),
    "location_of": ("What is {head} the location of?", "Where is {tail} located?", "{head} is the location of {tail}."),
    "interacts_with": ("What does {head} interact with?", "What interacts with {tail}?", "{head} interacts with {tail}."),
    "co-occurs_with": ("What does {head} co-occur with?", "What co-occurs with {tail}?", "{head} co-occurs with {tail}."),
    "precedes": ("What does {head} precede?", "What precedes {tail}?", "{head} precedes {tail}."),
    "treats": ("What does {head} treat?", "What treats {tail}?", "{head} treats {tail}."),
}
SIDES = ("tail", "head")


def readable(name: str) -> str:
    """A graph identifier as words: ``"amino_acid_peptide_or_protein"`` → ``"amino acid peptide or protein"``."""
    require_type("name", name, str)
    return name.replace("_", " ")


def verbalise(triple: Triple) -> str:
    """One fact as an English sentence, the form a sentence encoder can embed and a reader can check."""
    head, relation, tail = _check_triple_list("triple", [triple])[0]
    fact = QA_TEMPLATES[relation][2] if relation in QA_TEMPLATES else "{head} " + readable(relation) + " {tail}."
    return fact.format(head=readable(head), tail=readable(tail))


@dataclass(frozen=True)
class Question:
    """A templated question: ``(entity, relation, ?)`` (side ``"tail"``) or ``(?, relation, entity)``
    (side ``"head"``), with every answer the whole graph knows and the held-out triple it came from."""

    text: str
    entity: str
    relation: str
    side: str  # which end of the triple is asked for
    answers: frozenset[str]
    source: Triple


def build_questions(kg: KnowledgeGraph, split: str = "test", relations: Sequence[str] | None = None) -> list[Question]:
    """Questions from ``split``'s triples of the given relations: for ``(h, r, t)`` one asking for the
    tail given ``h`` and one asking for the head given ``t``; each distinct question once.

    Why every known answer counts: "What treats a fungus?" has several true answers, and a system
    that names one from the training facts has answered correctly.
    """
    require_type("kg", kg, KnowledgeGraph)
    relations = list(QA_TEMPLATES) if relations is None else list(relations)
    require_non_empty("relations", relations)
    for relation in relations:
        require_choice("relation", relation, tuple(QA_TEMPLATES))
        if relation not in kg.relations:
            raise ValueError(f"relation {relation!r} is not in {kg.name!r}")
    answers: dict[tuple[str, str, str], set[str]] = {}
    for h, r, t in kg.decode(kg.all_triples()):
        answers.setdefault(("tail", h, r), set()).add(t)
        answers.setdefault(("head", t, r), set()).add(h)
    questions, seen = [], set()
    for h, r, t in kg.decode(kg.triples(split)):
        if r not in relations:
            continue
        for side, entity in (("tail", h), ("head", t)):
            key = (side, entity, r)
            if key not in seen:
                seen.add(key)
                template = QA_TEMPLATES[r][SIDES.index(side)]
                text = template.format(head=readable(h), tail=readable(t))
                questions.append(Question(text, entity, r, side, frozenset(answers[key]), (h, r, t)))
    if not questions:
        raise ValueError(f"no {split} triple of {kg.name!r} uses the relations {relations}")
    return questions


def answer_triple(question: Question, answer: str) -> Triple:
    """The fact a question and an answer make together, e.g. to say it back as a sentence."""
    require_type("question", question, Question)
    require_type("answer", answer, str)
    if question.side == "tail":
        return (question.entity, question.relation, answer)
    return (answer, question.relation, question.entity)


def accuracy(predicted: Sequence[str | None], questions: Sequence[Question]) -> float:
    """Fraction of questions whose predicted entity is one of their true answers (``None``, an
    abstention, counts as wrong)."""
    require_type("predicted", predicted, (list, tuple))
    require_non_empty("questions", questions)
    if len(predicted) != len(questions):
        raise ValueError(f"predicted has {len(predicted)} answers for {len(questions)} questions")
    return sum(p in q.answers for p, q in zip(predicted, questions)) / len(questions)


def mentions_answer(text: str, question: Question) -> bool:
    """Whether free text (a language model's reply) names one of the true answers, as whole words."""
    require_type("text", text, str)
    require_type("question", question, Question)
    lowered = text.lower()
    return any(re.search(rf"\b{re.escape(readable(a).lower())}\b", lowered) for a in question.answers)


def _check_questions(kg: KnowledgeGraph, questions: Sequence[Question]) -> list[Question]:
    """Questions about ``kg``'s own entities and relations (a question about another graph has no answer here)."""
    require_type("kg", kg, KnowledgeGraph)
    require_non_empty("questions", questions)
    entities, relations = set(kg.entities), set(kg.relations)
    for i, q in enumerate(questions):
        require_type(f"questions[{i}]", q, Question)
        if q.entity not in entities or q.relation not in relations:
            raise ValueError(f"questions[{i}] ({q.text!r}) names an entity or relation that {kg.name!r} does not have")
    return list(questions)


def most_frequent_answers(kg: KnowledgeGraph, questions: Sequence[Question]) -> list[str]:
    """The unaided prior: the answer most common in training for the question's relation and side.

    It knows nothing about the question's subject, only which answers are common; a system that
    claims to use knowledge must beat it.
    """
    questions = _check_questions(kg, questions)
    counts: dict[tuple[str, str], Counter] = {}
    for h, r, t in kg.decode(kg.triples("train")):
        counts.setdefault(("tail", r), Counter())[t] += 1
        counts.setdefault(("head", r), Counter())[h] += 1
    return [counts[(q.side, q.relation)].most_common(1)[0][0] for q in questions]


@torch.no_grad()
def transe_answers(model: TransE, kg: KnowledgeGraph, questions: Sequence[Question]) -> list[str]:
    """Answer each question with TransE's best-scoring entity for the missing end (link prediction).

    The entity and relation are read off the templated question (entity linking is not what this
    demo measures). The model may name a fact it never saw: that is its strength, and also why its
    answer comes with no source to check.
    """
    _check_model_fits(model, kg)
    questions = _check_questions(kg, questions)
    entity_id = {e: i for i, e in enumerate(kg.entities)}
    relation_id = {r: i for i, r in enumerate(kg.relations)}
    answers = []
    for q in questions:
        entity = torch.tensor([entity_id[q.entity]])
        relation = torch.tensor([relation_id[q.relation]])
        scores = model.score_tails(entity, relation) if q.side == "tail" else model.score_heads(relation, entity)
        answers.append(kg.entities[int(scores.argmax())])
    return answers


class FactRetriever:
    """Dense retrieval over verbalised facts: embed every fact once, answer a question from its nearest.

    The encoder is any ``(tokenizer, model)`` pair that :func:`roadmap_lib.nlp.embed` accepts (the
    book uses Part I.1's MiniLM). Facts are embedded shortest first, so a batch pads little.
    """

    def __init__(self, facts: Sequence[Triple], tokenizer, encoder, batch_size: int = 128) -> None:
        from .nlp import embed

        self.facts = _check_triple_list("facts", facts)
        self.sentences = [verbalise(f) for f in self.facts]
        self._embed = lambda texts: embed(texts, tokenizer, encoder, batch_size=batch_size)
        order = sorted(range(len(self.sentences)), key=lambda i: len(self.sentences[i]))
        vectors = self._embed([self.sentences[i] for i in order])
        self.vectors = torch.empty_like(vectors)
        self.vectors[torch.tensor(order)] = vectors

    def retrieve(self, texts: Sequence[str], k: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """Cosine similarities and indices, ``(len(texts), k)`` each, of the ``k`` nearest facts."""
        require_type("texts", texts, (list, tuple))
        require_non_empty("texts", texts)
        k = require_int("k", k, minimum=1, maximum=len(self.facts))
        return (self._embed(list(texts)) @ self.vectors.T).topk(k, dim=1)

    def answer(self, questions: Sequence[Question], *, k: int = 1,
               check: bool = False) -> tuple[list[str | None], list[str], list[float]]:
        """Answer each question from the retrieved facts.

        ``check=False``: take the nearest fact and read the asked-for end off it, whatever it says.
        ``check=True``: among the ``k`` nearest, take the first fact that really answers the question
        (same relation, the question's entity on the known end): a rule-based "reader" standing in for
        the language model that reads retrieved passages in retrieval-augmented generation. When no
        retrieved fact qualifies the answer is ``None`` (abstain) rather than a guess.

        Returns the predicted entities, answer sentences (the fact itself with its id, which a reader
        can check) and the similarity of the fact used.
        """
        require_non_empty("questions", questions)
        for i, q in enumerate(questions):
            require_type(f"questions[{i}]", q, Question)
        require_type("check", check, bool)
        similarity, index = self.retrieve([q.text for q in questions], k=k)
        entities: list[str | None] = []
        sentences, scores = [], []
        for q, sims, candidates in zip(questions, similarity.tolist(), index.tolist()):
            chosen = 0
            if check:
                known_end = 0 if q.side == "tail" else 2
                chosen = next((j for j, i in enumerate(candidates)
                               if self.facts[i][1] == q.relation and self.facts[i][known_end] == q.entity), None)
            if chosen is None:
                entities.append(None)
                sentences.append("I do not know: no retrieved fact answers this.")
                scores.append(sims[0])
                continue
            fact = candidates[chosen]
            head, _, tail = self.facts[fact]
            entities.append(tail if q.side == "tail" else head)
            sentence = self.sentences[fact]
            sentences.append(f"{sentence[0].upper()}{sentence[1:]} [fact #{fact}]")
            scores.append(sims[chosen])
        return entities, sentences, scores


def lm_answers(model, tokenizer, questions: Sequence[Question], *, max_new_tokens: int = 12,
               facts: Sequence[str] | None = None) -> list[str]:
    """A causal language model's greedy reply to ``"Question: …\nAnswer:"``, optionally after a fact.

    Decoding goes through Part I.1's :func:`roadmap_lib.nlp.generate_text` (greedy, so the replies
    are deterministic); :func:`mentions_answer` grades them.
    """
    from .nlp import generate_text

    require_non_empty("questions", questions)
    max_new_tokens = require_positive_int("max_new_tokens", max_new_tokens)
    if facts is not None and len(facts) != len(questions):
        raise ValueError(f"facts has {len(facts)} entries for {len(questions)} questions")
    replies = []
    for i, question in enumerate(questions):
        require_type(f"questions[{i}]", question, Question)
        prompt = (f"Fact: {facts[i]}\n" if facts is not None else "") + f"Question: {question.text}\nAnswer:"
        replies.append(generate_text(model, tokenizer, prompt, "greedy", max_new_tokens=max_new_tokens)[0].strip())
    return replies


# ==================================================================================================
# Recorded benchmark: several seeds, a margin sweep and the norm-constraint ablation
# ==================================================================================================
#: The chapter's TransE settings, found by a small search on the *validation* split (never on test).
NATIONS_CONFIG = TransEConfig(dim=20, margin=4.0, num_negatives=16)
UMLS_CONFIG = TransEConfig(dim=50, margin=2.0, num_negatives=4)
CHAPTER_CONFIGS = {"nations": NATIONS_CONFIG, "umls": UMLS_CONFIG}


def _settings(config: TransEConfig) -> dict[str, Any]:
    """A config as JSON-ready keyword arguments, without the seed (the benchmark varies it)."""
    settings = asdict(config)
    settings.pop("seed")
    return settings


def _check_benchmark_config(config: Any) -> None:
    """The whole benchmark config, checked before the first of many training runs: otherwise a typo in
    the ablation section surfaces as a ``KeyError`` only after every other run has trained."""
    require_type("config", config, dict)
    require_keys("config", config, ("seeds", "transe", "margin_sweep", "ablation"))
    require_seeds("config['seeds']", config["seeds"])
    require_type("config['transe']", config["transe"], Mapping)
    require_non_empty("config['transe']", config["transe"])
    for dataset, settings in config["transe"].items():
        name = f"config['transe'][{dataset!r}]"
        require_choice("config['transe'] dataset", dataset, KG_DATASETS)
        require_type(name, settings, Mapping)
        if "seed" in settings:
            raise ValueError(f"{name} must not set 'seed': the benchmark's seed lists do")
        try:
            TransEConfig(**settings)
        except (TypeError, ValueError) as error:  # an unknown or out-of-range hyper-parameter
            raise type(error)(f"{name}: {error}") from error
    for section, keys in (("margin_sweep", ("dataset", "margins", "seeds")), ("ablation", ("dataset", "seeds"))):
        name = f"config[{section!r}]"
        require_keys(name, config[section], keys)
        require_choice(f"{name}['dataset']", config[section]["dataset"], tuple(config["transe"]))
        require_seeds(f"{name}['seeds']", config[section]["seeds"])
    margins = config["margin_sweep"]["margins"]
    require_type("config['margin_sweep']['margins']", margins, (list, tuple))
    require_non_empty("config['margin_sweep']['margins']", margins)
    for i, margin in enumerate(margins):
        require_positive_float(f"config['margin_sweep']['margins'][{i}]", margin)


def run_link_prediction_benchmark(config: dict[str, Any]) -> dict[str, Any]:
    """Train and evaluate TransE for every (dataset, seed), then the margin sweep and the ablation.

    ``config`` keys: ``seeds``, ``transe`` (dataset → TransE settings), ``margin_sweep``
    (``dataset``, ``margins``, ``seeds``) and ``ablation`` (``dataset``, ``seeds``: the same runs
    without the unit-norm constraint). Every run records raw and filtered test metrics, the random
    scorer's, the best epoch and its CPU seconds.
    """
    _check_benchmark_config(config)
    graphs: dict[str, KnowledgeGraph] = {}

    def run(dataset: str, settings: dict[str, Any], seed: int, **extra: Any) -> dict[str, Any]:
        kg = graphs.setdefault(dataset, load_kg(dataset))
        trained = train_transe(kg, TransEConfig(**settings, seed=seed), show_progress=False)
        return {"dataset": dataset, "seed": seed, **extra, "best_epoch": trained.best_epoch,
                "cpu_seconds": round(trained.cpu_seconds, 2),
                "final_entity_norm": trained.history[-1]["entity_norm"],
                "metrics": evaluate_link_prediction(trained.model, kg)}

    runs = [run(dataset, settings, seed) for dataset, settings in config["transe"].items() for seed in config["seeds"]]
    sweep = config["margin_sweep"]
    base = config["transe"][sweep["dataset"]]
    margin_runs = [run(sweep["dataset"], {**base, "margin": margin}, seed, margin=margin)
                   for margin in sweep["margins"] for seed in sweep["seeds"]]
    ablation = config["ablation"]
    unconstrained = {**config["transe"][ablation["dataset"]], "normalize_entities": False}
    ablation_runs = [run(ablation["dataset"], unconstrained, seed) for seed in ablation["seeds"]]
    return {"runs": runs, "margin_sweep": margin_runs, "ablation": ablation_runs}


def summarise_runs(runs: Sequence[Mapping[str, Any]], setting: str = "filtered") -> dict[str, dict[str, tuple[float, float]]]:
    """Mean and standard deviation over seeds of each metric, per dataset: ``{dataset: {metric: (mean, std)}}``."""
    require_type("runs", runs, (list, tuple))
    require_non_empty("runs", runs)
    for i, run in enumerate(runs):
        require_keys(f"runs[{i}]", run, ("dataset", "metrics"))
        if setting not in run["metrics"]:
            raise ValueError(f"setting must be one of runs[{i}]'s metric settings {sorted(run['metrics'])}, "
                             f"got {setting!r}")
    by_dataset: dict[str, list[dict[str, float]]] = {}
    for run in runs:
        by_dataset.setdefault(run["dataset"], []).append(run["metrics"][setting])
    return {dataset: {metric: (float(np.mean([m[metric] for m in rows])), float(np.std([m[metric] for m in rows])))
                      for metric in rows[0]}
            for dataset, rows in by_dataset.items()}


_SMOKE_TRANSE = {"max_epochs": 2, "eval_every": 1, "patience": 1}

BENCHMARKS = [
    benchmark.Benchmark(
        name="transe_link_prediction",
        run=run_link_prediction_benchmark,
        config={
            "seeds": [0, 1, 2, 3, 4],
            "transe": {name: _settings(cfg) for name, cfg in CHAPTER_CONFIGS.items()},
            "margin_sweep": {"dataset": "nations", "margins": [0.5, 1.0, 2.0, 4.0, 8.0], "seeds": [0, 1, 2]},
            "ablation": {"dataset": "nations", "seeds": [0, 1, 2]},
        },
        smoke_config={
            "seeds": [0],
            "transe": {name: {**_settings(cfg), **_SMOKE_TRANSE} for name, cfg in CHAPTER_CONFIGS.items()},
            "margin_sweep": {"dataset": "nations", "margins": [1.0], "seeds": [0]},
            "ablation": {"dataset": "nations", "seeds": [0]},
        },
    )
]


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] != ["benchmark"]:
        sys.exit("usage: python -m roadmap_lib.knowledge benchmark [names...] [--smoke] [--out PATH]")
    benchmark.cli(BENCHMARKS, sys.argv[2:], prog="python -m roadmap_lib.knowledge benchmark")
