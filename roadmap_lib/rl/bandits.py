"""Recommendation as a contextual bandit: a documented simulator and five policies with regret curves.

A recommender that shows one item and sees a click or not is a one-step RL problem: the *context* is
the user, the *action* is the item, the *reward* is the click, and the next user does not depend on
this choice. That removes credit assignment but keeps the exploration–exploitation dilemma, which is
why bandits (Li et al. 2010) rather than DQN drive most deployed recommendation experiments.

The simulator is synthetic (no interaction log with logged propensities installs offline) and fully
described by :class:`RecommenderSimulator`'s docstring, so its numbers can be reproduced elsewhere.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ..validation import require_float, require_int, require_positive_float, require_positive_int, require_type


class RecommenderSimulator:
    """Users with topic interests, items with topic appeal, clicks with a linear probability.

    Generative model (all drawn from ``seed``):

    - ``n_topics`` topics; item ``k`` has appeal ``w_k ∈ [0, 1]^n_topics``: uniform in [0, 0.3] for every
      topic except its main topic ``k mod n_topics``, where it is uniform in [0.5, 0.9];
    - a user is a vector of interests ``x`` on the simplex, drawn from Dirichlet(``concentration``); a
      small concentration (default 0.3) makes most users care about one or two topics;
    - shown item ``k``, the user clicks with probability ``x · w_k`` (in [0, 1] because ``x`` sums to 1).

    The click probability is exactly linear in the context, so LinUCB's model is correct here; the best
    item differs between users, so any policy that ignores the context pays a constant regret per user.
    """

    def __init__(self, n_items: int = 8, n_topics: int = 5, *, concentration: float = 0.3, seed: int = 0) -> None:
        self.n_items = require_int("n_items", n_items, minimum=2)
        self.n_topics = require_positive_int("n_topics", n_topics)
        self.concentration = require_positive_float("concentration", concentration)
        rng = np.random.default_rng(require_int("seed", seed, minimum=0))
        appeal = rng.uniform(0.0, 0.3, size=(n_items, n_topics))
        main_topic = np.arange(n_items) % n_topics
        appeal[np.arange(n_items), main_topic] = rng.uniform(0.5, 0.9, size=n_items)
        self.appeal = appeal

    def users(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` user interest vectors, shape ``(n, n_topics)``, rows summing to 1."""
        n = require_positive_int("n", n)
        require_type("rng", rng, np.random.Generator)
        return rng.dirichlet(np.full(self.n_topics, self.concentration), size=n)

    def click_probability(self, contexts: np.ndarray) -> np.ndarray:
        """Click probability of every item for every user: ``(n, n_items)``."""
        contexts = np.asarray(contexts, dtype=float)
        if contexts.ndim != 2 or contexts.shape[1] != self.n_topics:
            raise ValueError(f"contexts must have shape (n, {self.n_topics}), got {contexts.shape}")
        return contexts @ self.appeal.T


class BanditPolicy(Protocol):
    """What :func:`run_bandit` needs: pick an arm for a context, then learn from the observed reward."""

    def select(self, context: np.ndarray) -> int: ...

    def update(self, context: np.ndarray, arm: int, reward: float) -> None: ...


def _argmax(values: np.ndarray, rng: np.random.Generator) -> int:
    """Index of the maximum, ties broken at random (so untried arms are not always tried in order)."""
    return int(rng.choice(np.flatnonzero(values == values.max())))


class _ContextFree:
    """Shared bookkeeping of the context-free policies: pull counts and mean rewards per arm."""

    def __init__(self, n_arms: int, seed: int) -> None:
        self.n_arms = require_int("n_arms", n_arms, minimum=2)
        self.rng = np.random.default_rng(require_int("seed", seed, minimum=0))
        self.counts = np.zeros(n_arms)
        self.means = np.zeros(n_arms)

    def update(self, context: np.ndarray, arm: int, reward: float) -> None:
        self.counts[arm] += 1
        self.means[arm] += (reward - self.means[arm]) / self.counts[arm]


class EpsilonGreedy(_ContextFree):
    """Exploit the best mean so far; with probability ε show a random item (Sutton & Barto 2018, §2.2)."""

    def __init__(self, n_arms: int, epsilon: float = 0.1, *, seed: int = 0) -> None:
        super().__init__(n_arms, seed)
        self.epsilon = require_float("epsilon", epsilon, low=0.0, high=1.0)

    def select(self, context: np.ndarray) -> int:
        if self.rng.random() < self.epsilon:
            return int(self.rng.integers(self.n_arms))
        return _argmax(self.means, self.rng)


class UCB1(_ContextFree):
    """Optimism in the face of uncertainty: mean + sqrt(2 ln t / n) (Auer et al. 2002)."""

    def __init__(self, n_arms: int, *, seed: int = 0) -> None:
        super().__init__(n_arms, seed)

    def select(self, context: np.ndarray) -> int:
        if (self.counts == 0).any():
            return _argmax((self.counts == 0).astype(float), self.rng)
        bonus = np.sqrt(2.0 * np.log(self.counts.sum()) / self.counts)
        return _argmax(self.means + bonus, self.rng)


class BernoulliThompson(_ContextFree):
    """Thompson sampling with Beta(1, 1) priors on each item's click rate (Thompson 1933)."""

    def __init__(self, n_arms: int, *, seed: int = 0) -> None:
        super().__init__(n_arms, seed)

    def select(self, context: np.ndarray) -> int:
        clicks = self.means * self.counts
        return _argmax(self.rng.beta(1.0 + clicks, 1.0 + self.counts - clicks), self.rng)


class _LinearArms:
    """Per-arm ridge regression of reward on context, kept as ``A⁻¹`` and ``b`` (Sherman–Morrison updates)."""

    def __init__(self, n_arms: int, dim: int, ridge: float, seed: int) -> None:
        self.n_arms = require_int("n_arms", n_arms, minimum=2)
        self.dim = require_positive_int("dim", dim)
        ridge = require_positive_float("ridge", ridge)
        self.rng = np.random.default_rng(require_int("seed", seed, minimum=0))
        self.a_inv = np.repeat(np.eye(dim)[None] / ridge, n_arms, axis=0)
        self.b = np.zeros((n_arms, dim))

    def _check(self, context: np.ndarray) -> np.ndarray:
        context = np.asarray(context, dtype=float)
        if context.shape != (self.dim,):
            raise ValueError(f"context must have shape ({self.dim},), got {context.shape}")
        return context

    def theta(self) -> np.ndarray:
        """Ridge estimates of every arm's weights, ``(n_arms, dim)``."""
        return np.einsum("kij,kj->ki", self.a_inv, self.b)

    def update(self, context: np.ndarray, arm: int, reward: float) -> None:
        x = self._check(context)
        a_inv_x = self.a_inv[arm] @ x
        self.a_inv[arm] -= np.outer(a_inv_x, a_inv_x) / (1.0 + x @ a_inv_x)
        self.b[arm] += reward * x


class LinUCB(_LinearArms):
    """Disjoint LinUCB (Li et al. 2010): ridge estimate + ``alpha`` × its standard error, per item."""

    def __init__(self, n_arms: int, dim: int, alpha: float = 1.0, *, ridge: float = 1.0, seed: int = 0) -> None:
        super().__init__(n_arms, dim, ridge, seed)
        self.alpha = require_float("alpha", alpha, low=0.0)

    def select(self, context: np.ndarray) -> int:
        x = self._check(context)
        width = np.sqrt(np.einsum("i,kij,j->k", x, self.a_inv, x))
        return _argmax(self.theta() @ x + self.alpha * width, self.rng)


class LinearThompson(_LinearArms):
    """Linear Thompson sampling (Agrawal & Goyal 2013): sample weights from N(θ̂, v² A⁻¹), act greedily."""

    def __init__(self, n_arms: int, dim: int, scale: float = 0.3, *, ridge: float = 1.0, seed: int = 0) -> None:
        super().__init__(n_arms, dim, ridge, seed)
        self.scale = require_positive_float("scale", scale)

    def select(self, context: np.ndarray) -> int:
        x = self._check(context)
        chol = np.linalg.cholesky(self.a_inv)
        sampled = self.theta() + self.scale * np.einsum("kij,kj->ki", chol, self.rng.standard_normal((self.n_arms, self.dim)))
        return _argmax(sampled @ x, self.rng)


class RandomPolicy:
    """Show a uniformly random item: the floor every policy must beat."""

    def __init__(self, n_arms: int, *, seed: int = 0) -> None:
        self.n_arms = require_int("n_arms", n_arms, minimum=2)
        self.rng = np.random.default_rng(require_int("seed", seed, minimum=0))

    def select(self, context: np.ndarray) -> int:
        return int(self.rng.integers(self.n_arms))

    def update(self, context: np.ndarray, arm: int, reward: float) -> None:
        """Nothing to learn."""


def run_bandit(policy: BanditPolicy, simulator: RecommenderSimulator, rounds: int, *, seed: int = 0) -> dict[str, np.ndarray]:
    """Serve ``rounds`` users; return per-round ``regret`` (expected, vs the oracle) and ``clicks``.

    The users and the click coins come from ``seed`` alone, so every policy run with the same seed
    meets the same users and the same luck (common random numbers), and their gap is the policies'.
    Regret is the pseudo-regret ``max_k p_k(x_t) − p_{a_t}(x_t)``: the oracle's click probability
    minus the chosen item's, which is less noisy than counting clicks.
    """
    require_type("simulator", simulator, RecommenderSimulator)
    for method in ("select", "update"):
        if not callable(getattr(policy, method, None)):
            raise TypeError(f"policy must have a {method}() method (see BanditPolicy)")
    rounds = require_positive_int("rounds", rounds)
    rng = np.random.default_rng(require_int("seed", seed, minimum=0))
    contexts = simulator.users(rounds, rng)
    probs = simulator.click_probability(contexts)
    coins = rng.random(rounds)
    regret = np.zeros(rounds)
    clicks = np.zeros(rounds)
    for t in range(rounds):
        arm = int(policy.select(contexts[t]))
        if not 0 <= arm < simulator.n_items:
            raise ValueError(f"policy chose arm {arm}, outside 0..{simulator.n_items - 1}")
        clicks[t] = float(coins[t] < probs[t, arm])
        regret[t] = probs[t].max() - probs[t, arm]
        policy.update(contexts[t], arm, clicks[t])
    return {"regret": regret, "clicks": clicks}
