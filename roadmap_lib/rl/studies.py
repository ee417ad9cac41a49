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
from ..validation import require_keys, require_non_empty, require_positive_int, require_seeds, require_type
from .common import TrainResult, evaluate_greedy
from .dqn import DQNConfig, train_dqn
from .policy_gradient import A2CConfig, ReinforceConfig, train_a2c, train_reinforce

#: Seeds of the fresh episodes that re-evaluate a best checkpoint (disjoint from training-time evaluation).
FRESH_EVAL_SEED = 50_000


def config_dict(config: Any) -> dict[str, Any]:
    """A config dataclass as a JSON-ready dict (tuples become lists, as JSON would make them)."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"config must be a config dataclass instance such as DQNConfig(), got {type(config).__name__}")
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()}


def config_from(cls: type, mapping: dict[str, Any], **overrides: Any) -> Any:
    """Rebuild a config dataclass from :func:`config_dict`'s output, with optional overrides.

    Unknown keys are refused by name, saying whether the recorded config or an override carries them:
    ``cls``'s own error would only name the keyword, not where it came from.
    """
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"cls must be a config dataclass such as DQNConfig, got {cls!r}")
    require_type("mapping", mapping, dict)
    fields = {f.name for f in dataclasses.fields(cls) if f.init}
    for name, keys in (("mapping", mapping), ("overrides", overrides)):
        unknown = sorted(set(keys) - fields)
        if unknown:
            raise ValueError(f"{name} names fields {cls.__name__} does not have: {unknown}")
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


def _check_study(config: Any, mappings: tuple[str, ...]) -> None:
    """Reject a malformed study config before its first run: a bad seed or key found only after the
    earlier runs had trained would waste minutes and leave no record."""
    require_type("config", config, dict)
    require_keys("config", config, ("seeds", *mappings, "fresh_eval_episodes"))
    require_seeds("config['seeds']", config["seeds"])
    for key in mappings:
        require_type(f"config['{key}']", config[key], dict)
    require_positive_int("config['fresh_eval_episodes']", config["fresh_eval_episodes"])


def run_dqn_cartpole(config: dict[str, Any]) -> dict[str, Any]:
    """Every (variant, seed) DQN run of the study; variants override the shared DQN config."""
    _check_study(config, ("dqn", "variants"))
    require_non_empty("config['variants']", config["variants"])
    dqn_configs: dict[str, DQNConfig] = {}  # all built (and so checked) before the first run trains
    for variant, overrides in config["variants"].items():
        require_type(f"config['variants'][{variant!r}]", overrides, dict)
        dqn_configs[variant] = config_from(DQNConfig, config["dqn"], **overrides)
    runs = {}
    with num_threads(1):  # small MLPs: one thread is as fast as two, and timings stay comparable
        for variant, dqn_config in dqn_configs.items():
            runs[variant] = [
                _record(train_dqn(dqn_config, seed), config["fresh_eval_episodes"], dqn_config.env_id)
                for seed in config["seeds"]
            ]
    return runs


def run_pg_cartpole(config: dict[str, Any]) -> dict[str, Any]:
    """REINFORCE and A2C runs on the study's seeds."""
    _check_study(config, ("reinforce", "a2c"))
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
