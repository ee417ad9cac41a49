"""Part III's recorded benchmarks: the multi-seed studies too long for the chapter's three minutes.

- ``dqn_cartpole``: DQN on CartPole-v1, 3 seeds × 50,000 steps: the tuned configuration and three
  one-change ablations (the article's bug of copying the target network after every update, the
  textbook learning rate, Double DQN), with evaluation curves and a re-evaluation
  of each run's best checkpoint on 100 fresh episodes (so the reported score is not just the luckiest
  of many evaluations).
- ``pg_cartpole``: REINFORCE with a baseline and A2C on the same task and seeds, for the
  steps-to-solve and wall-time comparison with DQN.

Run with ``python -m roadmap_lib.rl benchmark``; the chapter loads the JSON with
``benchmark.load_result``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..benchmark import Benchmark
from ..runtime import num_threads
from .common import TrainResult, evaluate_greedy
from .dqn import DQNConfig, train_dqn
from .policy_gradient import A2CConfig, ReinforceConfig, train_a2c, train_reinforce

#: Seeds of the fresh episodes that re-evaluate a best checkpoint (disjoint from training-time evaluation).
FRESH_EVAL_SEED = 50_000


def config_dict(config: Any) -> dict[str, Any]:
    """A config dataclass as a JSON-ready dict (tuples become lists, as JSON would make them)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()}


def config_from(cls: type, mapping: dict[str, Any], **overrides: Any) -> Any:
    """Rebuild a config dataclass from :func:`config_dict`'s output, with optional overrides."""
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in {**mapping, **overrides}.items()}
    return cls(**values)


def _record(result: TrainResult, fresh_episodes: int, env_id: str) -> dict[str, Any]:
    """One run's JSON record: its curve and milestones, plus its best checkpoint on fresh episodes."""
    record = result.summary()
    for key in ("episode_returns", "episode_end_steps"):
        record.pop(key)
    fresh = evaluate_greedy(result.best_net, env_id, episodes=fresh_episodes, seed=FRESH_EVAL_SEED + 1_000 * result.seed)
    record["fresh_eval_mean"] = float(fresh.mean())
    record["fresh_eval_min"] = float(fresh.min())
    return record


def run_dqn_cartpole(config: dict[str, Any]) -> dict[str, Any]:
    """Every (variant, seed) DQN run of the study; variants override the shared DQN config."""
    runs = {}
    with num_threads(1):  # small MLPs: one thread is as fast as two, and timings stay comparable
        for variant, overrides in config["variants"].items():
            dqn_config = config_from(DQNConfig, config["dqn"], **overrides)
            runs[variant] = [
                _record(train_dqn(dqn_config, seed), config["fresh_eval_episodes"], dqn_config.env_id)
                for seed in config["seeds"]
            ]
    return runs


def run_pg_cartpole(config: dict[str, Any]) -> dict[str, Any]:
    """REINFORCE and A2C runs on the study's seeds."""
    reinforce = config_from(ReinforceConfig, config["reinforce"])
    a2c = config_from(A2CConfig, config["a2c"])
    episodes = config["fresh_eval_episodes"]
    with num_threads(1):
        return {
            "REINFORCE": [_record(train_reinforce(reinforce, seed), episodes, reinforce.env_id) for seed in config["seeds"]],
            "A2C": [_record(train_a2c(a2c, seed), episodes, a2c.env_id) for seed in config["seeds"]],
        }


_DQN_SMOKE = DQNConfig(total_steps=1_200, learning_starts=200, train_freq=200, gradient_steps=4, eval_every=600,
                       eval_episodes=2)

BENCHMARKS = [
    Benchmark(
        "dqn_cartpole",
        run_dqn_cartpole,
        config={
            "seeds": [0, 1, 2],
            "dqn": config_dict(DQNConfig()),
            "variants": {
                "tuned": {},
                "target_synced_every_update": {"target_sync_every": 1},  # the article's bug
                "learning_rate_2.5e-4": {"learning_rate": 2.5e-4},  # the textbook (Nature DQN) rate
                "double_q": {"double_q": True},
            },
            "fresh_eval_episodes": 100,
        },
        smoke_config={
            "seeds": [0],
            "dqn": config_dict(_DQN_SMOKE),
            "variants": {"tuned": {}},
            "fresh_eval_episodes": 2,
        },
        packages=("gymnasium", "numpy"),
    ),
    Benchmark(
        "pg_cartpole",
        run_pg_cartpole,
        config={
            "seeds": [0, 1, 2],
            "reinforce": config_dict(ReinforceConfig()),
            "a2c": config_dict(A2CConfig()),
            "fresh_eval_episodes": 100,
        },
        smoke_config={
            "seeds": [0],
            "reinforce": config_dict(ReinforceConfig(total_steps=600, eval_every=300, eval_episodes=2)),
            "a2c": config_dict(A2CConfig(total_steps=600, n_envs=2, n_steps=50, eval_every=300, eval_episodes=2)),
            "fresh_eval_episodes": 2,
        },
        packages=("gymnasium", "numpy"),
    ),
]
