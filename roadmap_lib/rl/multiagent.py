"""Two independent learners in a repeated matrix game: why multi-agent RL is non-stationary.

Each agent runs ordinary single-agent Q-learning and treats the other as part of the environment
(independent learners, Tan 1993). Against a *fixed* opponent that environment is stationary and
Q-learning settles; against a *learning* opponent the value of each action keeps moving, so the
"environment" each agent models changes under it. Matching pennies makes this stark: whichever side
is winning, the loser adapts, and the greedy policies chase each other round and round.
"""

from __future__ import annotations

import numpy as np

from ..validation import require_float, require_int, require_positive_int

#: Row player's payoff in matching pennies (actions: 0 = heads, 1 = tails); the column player gets the
#: negative (zero-sum). The only equilibrium is both playing 50/50.
MATCHING_PENNIES = np.array([[1.0, -1.0], [-1.0, 1.0]])


def epsilon_greedy_probs(q: np.ndarray, epsilon: float) -> np.ndarray:
    """Action probabilities of an ε-greedy policy on values ``q`` (ties go to the lowest index)."""
    q = np.asarray(q, dtype=float)
    if q.ndim != 1 or q.size < 2:
        raise ValueError(f"q must be a 1-D array of at least two action values, got shape {q.shape}")
    epsilon = require_float("epsilon", epsilon, low=0.0, high=1.0)
    probs = np.full(q.size, epsilon / q.size)
    probs[int(np.argmax(q))] += 1.0 - epsilon
    return probs


def independent_q_learning(payoff: np.ndarray = MATCHING_PENNIES, *, rounds: int = 4_000, alpha: float = 0.1,
                           epsilon: float = 0.1, opponent_learns: bool = True,
                           fixed_opponent: tuple[float, float] = (0.2, 0.8), seed: int = 0) -> dict[str, np.ndarray]:
    """Play ``payoff`` (row player's; the column player gets ``-payoff``) for ``rounds`` rounds.

    The row agent always learns stateless ε-greedy Q-values with step size ``alpha``. The column agent
    learns the same way when ``opponent_learns``, else plays the fixed mixed strategy
    ``fixed_opponent``. Returned per round: ``q_row`` (rounds, 2), the row agent's Q-values;
    ``true_value_row`` (rounds, 2), what each row action is *actually* worth against the column
    agent's current policy (the quantity ``q_row`` is chasing); ``greedy_row`` and ``greedy_col``,
    each agent's greedy action.
    """
    payoff = np.asarray(payoff, dtype=float)
    if payoff.shape != (2, 2):
        raise ValueError(f"payoff must be a 2x2 matrix (row player's payoffs), got shape {payoff.shape}")
    rounds = require_positive_int("rounds", rounds)
    alpha = require_float("alpha", alpha, low=0.0, high=1.0, low_inclusive=False)
    epsilon = require_float("epsilon", epsilon, low=0.0, high=1.0)
    fixed = np.asarray(fixed_opponent, dtype=float)
    if fixed.shape != (2,) or (fixed < 0).any() or not np.isclose(fixed.sum(), 1.0):
        raise ValueError(f"fixed_opponent must be two probabilities summing to 1, got {fixed_opponent}")
    rng = np.random.default_rng(require_int("seed", seed, minimum=0))
    q_row, q_col = np.zeros(2), np.zeros(2)
    history = {name: np.zeros((rounds, 2)) for name in ("q_row", "true_value_row")}
    greedy_row, greedy_col = np.zeros(rounds, dtype=int), np.zeros(rounds, dtype=int)
    for t in range(rounds):
        col_policy = epsilon_greedy_probs(q_col, epsilon) if opponent_learns else fixed
        a_row = int(rng.choice(2, p=epsilon_greedy_probs(q_row, epsilon)))
        a_col = int(rng.choice(2, p=col_policy))
        reward = payoff[a_row, a_col]
        q_row[a_row] += alpha * (reward - q_row[a_row])
        if opponent_learns:
            q_col[a_col] += alpha * (-reward - q_col[a_col])
        history["q_row"][t] = q_row
        history["true_value_row"][t] = payoff @ col_policy
        greedy_row[t], greedy_col[t] = int(np.argmax(q_row)), int(np.argmax(q_col))
    return {**history, "greedy_row": greedy_row, "greedy_col": greedy_col}


def policy_switches(greedy_actions: np.ndarray) -> int:
    """How many times a greedy action changes: zero once a learner has settled."""
    greedy_actions = np.asarray(greedy_actions)
    if greedy_actions.ndim != 1:
        raise ValueError(f"greedy_actions must be 1-D, got shape {greedy_actions.shape}")
    return int((greedy_actions[1:] != greedy_actions[:-1]).sum())
