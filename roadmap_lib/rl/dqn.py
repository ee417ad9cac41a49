"""DQN that learns (Mnih et al. 2015), written CleanRL-style: hyper-parameters first, then the learning
rule as small pure functions (:func:`td_targets`, :func:`dqn_loss`), then the loop that feeds them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from ..runtime import progress
from ..validation import (
    require_choice,
    require_float,
    require_int,
    require_positive_float,
    require_positive_int,
    require_type,
)
from .common import Evaluator, TrainResult, check_discrete_env, make_env, mlp, result_from

# --------------------------------------------------------------------------------------------------
# DQN: hyper-parameters
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DQNConfig:
    """Every DQN hyper-parameter, named, with the value that solves CartPole-v1 within 50k steps.

    The defaults follow the RL Baselines3 Zoo's tuned CartPole DQN (Raffin et al.): a large learning
    rate, and training in bursts (``gradient_steps`` updates every ``train_freq`` environment steps)
    against a target network that is frozen for a whole burst. ``target_sync_every`` counts gradient
    steps; 1 reproduces the article's bug (the target copies the online network after every update).
    """

    env_id: str = "CartPole-v1"
    total_steps: int = 50_000  # environment steps, the sample budget
    learning_rate: float = 2.3e-3
    buffer_size: int = 100_000
    batch_size: int = 64
    gamma: float = 0.99
    learning_starts: int = 1_000  # random-policy steps that fill the buffer before any update
    train_freq: int = 256  # environment steps between training bursts
    gradient_steps: int = 128  # updates per burst
    target_sync_every: int = 128  # gradient steps between hard copies online → target
    epsilon_start: float = 1.0
    epsilon_end: float = 0.04
    exploration_fraction: float = 0.16  # share of total_steps over which ε falls linearly
    hidden: tuple[int, ...] = (256, 256)
    max_grad_norm: float = 10.0
    double_q: bool = False  # van Hasselt et al. 2016: online net picks, target net scores
    loss: str = "huber"  # "huber" (smooth L1) or "mse" (the article's)
    eval_every: int = 2_500  # environment steps between greedy evaluations
    eval_episodes: int = 20
    solved_return: float = 475.0
    stop_when_solved: bool = False  # end training at the first evaluation ≥ solved_return

    def __post_init__(self) -> None:
        require_type("env_id", self.env_id, str)
        for name in ("total_steps", "buffer_size", "batch_size", "train_freq", "gradient_steps",
                     "target_sync_every", "eval_every", "eval_episodes"):
            require_positive_int(name, getattr(self, name))
        require_int("learning_starts", self.learning_starts, minimum=0)
        require_positive_float("learning_rate", self.learning_rate)
        require_float("gamma", self.gamma, low=0.0, high=1.0)
        require_float("epsilon_start", self.epsilon_start, low=0.0, high=1.0)
        require_float("epsilon_end", self.epsilon_end, low=0.0, high=1.0)
        require_float("exploration_fraction", self.exploration_fraction, low=0.0, high=1.0, low_inclusive=False)
        require_positive_float("max_grad_norm", self.max_grad_norm)
        require_type("hidden", self.hidden, tuple)
        for i, width in enumerate(self.hidden):
            require_positive_int(f"hidden[{i}]", width)
        require_type("double_q", self.double_q, bool)
        require_choice("loss", self.loss, ("huber", "mse"))
        require_float("solved_return", self.solved_return)
        require_type("stop_when_solved", self.stop_when_solved, bool)
        if self.batch_size > self.buffer_size:
            raise ValueError(f"batch_size ({self.batch_size}) must not exceed buffer_size ({self.buffer_size})")


# --------------------------------------------------------------------------------------------------
# DQN: replay buffer and the learning rule
# --------------------------------------------------------------------------------------------------


class Batch(NamedTuple):
    """A minibatch of transitions as tensors: ``obs`` (B, d), ``actions`` (B,), ``rewards`` (B,),
    ``next_obs`` (B, d), ``terminated`` (B,) as 0/1 floats."""

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_obs: torch.Tensor
    terminated: torch.Tensor


class ReplayBuffer:
    """A fixed-size ring buffer of transitions, sampled uniformly (Mnih et al. 2015).

    Why: consecutive CartPole states are nearly identical; sampling old and new transitions together
    breaks that correlation, and each transition is reused in many updates. Only ``terminated`` is
    stored, not ``truncated``: a time-limit cut is not a real end, so its next state still has value.
    """

    def __init__(self, capacity: int, obs_dim: int, *, seed: int = 0) -> None:
        self.capacity = require_positive_int("capacity", capacity)
        self.obs_dim = require_positive_int("obs_dim", obs_dim)
        self.rng = np.random.default_rng(require_int("seed", seed, minimum=0))
        self.obs = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.actions = np.zeros(capacity, dtype=np.int64)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.terminated = np.zeros(capacity, dtype=np.float32)
        self.position = 0  # next slot to write
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, obs: Any, action: int, reward: float, next_obs: Any, terminated: bool) -> None:
        """Store one transition, overwriting the oldest once the buffer is full."""
        obs_arr = np.asarray(obs, dtype=np.float32)
        next_arr = np.asarray(next_obs, dtype=np.float32)
        for name, arr in (("obs", obs_arr), ("next_obs", next_arr)):
            if arr.shape != (self.obs_dim,):
                raise ValueError(f"{name} must have shape ({self.obs_dim},), got {arr.shape}")
        i = self.position
        self.obs[i], self.next_obs[i] = obs_arr, next_arr
        self.actions[i] = require_int("action", action, minimum=0)
        self.rewards[i] = require_float("reward", reward)
        self.terminated[i] = float(bool(terminated))
        self.position = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int) -> Batch:
        """``batch_size`` transitions drawn uniformly with replacement."""
        batch_size = require_positive_int("batch_size", batch_size)
        if self.size == 0:
            raise ValueError("cannot sample from an empty ReplayBuffer; add transitions first")
        idx = self.rng.integers(0, self.size, size=batch_size)
        return Batch(
            torch.from_numpy(self.obs[idx]),
            torch.from_numpy(self.actions[idx]),
            torch.from_numpy(self.rewards[idx]),
            torch.from_numpy(self.next_obs[idx]),
            torch.from_numpy(self.terminated[idx]),
        )


def td_targets(
    rewards: torch.Tensor,
    next_q_target: torch.Tensor,
    terminated: torch.Tensor,
    gamma: float,
    next_q_online: torch.Tensor | None = None,
) -> torch.Tensor:
    """The one-step TD target ``r + γ (1 − terminated) Q_target(s', a*)``.

    ``a*`` is ``argmax Q_target(s', ·)`` (DQN) or, when ``next_q_online`` is given,
    ``argmax Q_online(s', ·)`` scored by the target network (Double DQN), which curbs the max
    operator's over-estimation. Only a true termination cuts the bootstrap.
    """
    gamma = require_float("gamma", gamma, low=0.0, high=1.0)
    for name, t in (("rewards", rewards), ("next_q_target", next_q_target), ("terminated", terminated)):
        require_type(name, t, torch.Tensor)
    if next_q_target.ndim != 2 or next_q_target.shape[0] != rewards.shape[0]:
        raise ValueError(f"next_q_target must have shape (batch, actions), got {tuple(next_q_target.shape)}")
    if rewards.shape != terminated.shape or rewards.ndim != 1:
        raise ValueError(f"rewards and terminated must both be (batch,), got {tuple(rewards.shape)} and {tuple(terminated.shape)}")
    if next_q_online is None:
        next_value = next_q_target.max(dim=1).values
    else:
        if next_q_online.shape != next_q_target.shape:
            raise ValueError("next_q_online must have the same shape as next_q_target")
        best = next_q_online.argmax(dim=1, keepdim=True)
        next_value = next_q_target.gather(1, best).squeeze(1)
    return rewards + gamma * (1.0 - terminated.float()) * next_value


def dqn_loss(q_net: nn.Module, target_net: nn.Module, batch: Batch, gamma: float, *,
             double_q: bool = False, loss: str = "huber") -> torch.Tensor:
    """The DQN regression loss on one minibatch (targets computed without gradient).

    The batch is checked first because a wrong dtype, shape or action index otherwise fails inside
    ``gather`` with PyTorch's message, and an unknown ``loss`` would silently fall through to MSE.
    ``gamma`` and the reward and termination shapes are checked by :func:`td_targets`.
    """
    require_type("q_net", q_net, nn.Module)
    require_type("target_net", target_net, nn.Module)
    require_type("batch", batch, Batch)
    for name, value in zip(Batch._fields, batch):
        require_type(f"batch.{name}", value, torch.Tensor)
    if batch.obs.ndim != 2 or batch.obs.shape[0] == 0:
        raise ValueError(f"batch.obs must be a non-empty (batch, obs_dim) tensor, got shape {tuple(batch.obs.shape)}")
    if batch.actions.dtype != torch.int64 or batch.actions.shape != batch.obs.shape[:1]:
        raise ValueError(
            f"batch.actions must be an int64 tensor of shape ({batch.obs.shape[0]},), "
            f"got {batch.actions.dtype} of shape {tuple(batch.actions.shape)}"
        )
    require_type("double_q", double_q, bool)
    require_choice("loss", loss, ("huber", "mse"))
    q = q_net(batch.obs)
    if q.ndim != 2:
        raise ValueError(f"q_net must output (batch, actions) values, got shape {tuple(q.shape)}")
    low, high = int(batch.actions.min()), int(batch.actions.max())
    if low < 0 or high >= q.shape[1]:
        raise ValueError(f"batch.actions must index q_net's {q.shape[1]} outputs, got values in [{low}, {high}]")
    q_taken = q.gather(1, batch.actions.unsqueeze(1)).squeeze(1)
    with torch.no_grad():
        next_online = q_net(batch.next_obs) if double_q else None
        targets = td_targets(batch.rewards, target_net(batch.next_obs), batch.terminated, gamma, next_online)
    if loss == "huber":
        return nn.functional.smooth_l1_loss(q_taken, targets)
    return nn.functional.mse_loss(q_taken, targets)


def linear_schedule(start: float, end: float, duration: int, step: int) -> float:
    """Value falling linearly from ``start`` to ``end`` over ``duration`` steps, then flat at ``end``."""
    require_float("start", start)
    require_float("end", end)
    duration = require_positive_int("duration", duration)
    step = require_int("step", step, minimum=0)
    return end + (start - end) * max(0.0, 1.0 - step / duration)


# --------------------------------------------------------------------------------------------------
# DQN: the training loop (plumbing around dqn_loss)
# --------------------------------------------------------------------------------------------------


def train_dqn(config: DQNConfig = DQNConfig(), seed: int = 0) -> TrainResult:
    """Train DQN on ``config.env_id`` for ``config.total_steps`` environment steps; see :class:`DQNConfig`.

    The loop: act ε-greedily → store the transition → every ``train_freq`` steps run ``gradient_steps``
    updates of :func:`dqn_loss` → copy online → target every ``target_sync_every`` updates → evaluate
    greedily every ``eval_every`` steps and keep the best network.
    """
    require_type("config", config, DQNConfig)
    seed = require_int("seed", seed, minimum=0)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    env = make_env(config.env_id)
    obs_dim, n_actions = check_discrete_env(env)
    q_net = mlp([obs_dim, *config.hidden, n_actions])
    target_net = copy.deepcopy(q_net)
    optimizer = torch.optim.Adam(q_net.parameters(), lr=config.learning_rate)
    buffer = ReplayBuffer(config.buffer_size, obs_dim, seed=seed)
    evaluator = Evaluator(config.env_id, config.eval_episodes, config.solved_return, seed=10_000 + 100 * seed)
    explore_steps = max(1, int(config.exploration_fraction * config.total_steps))
    episode_returns: list[float] = []
    episode_ends: list[int] = []
    updates = 0
    obs, _ = env.reset(seed=seed)
    episode_return = 0.0
    for step in progress(range(1, config.total_steps + 1), desc=f"DQN seed {seed}", total=config.total_steps):
        epsilon = linear_schedule(config.epsilon_start, config.epsilon_end, explore_steps, step - 1)
        if step <= config.learning_starts or rng.random() < epsilon:
            action = int(rng.integers(n_actions))
        else:
            with torch.no_grad():
                action = int(q_net(torch.as_tensor(obs, dtype=torch.float32).unsqueeze(0)).argmax())
        next_obs, reward, terminated, truncated, _ = env.step(action)
        buffer.add(obs, action, float(reward), next_obs, terminated)
        episode_return += float(reward)
        obs = next_obs
        if terminated or truncated:
            episode_returns.append(episode_return)
            episode_ends.append(step)
            episode_return = 0.0
            obs, _ = env.reset()
        if step > config.learning_starts and step % config.train_freq == 0:
            for _ in range(config.gradient_steps):
                if updates % config.target_sync_every == 0:
                    target_net.load_state_dict(q_net.state_dict())
                loss = dqn_loss(q_net, target_net, buffer.sample(config.batch_size), config.gamma,
                                double_q=config.double_q, loss=config.loss)
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(q_net.parameters(), config.max_grad_norm)
                optimizer.step()
                updates += 1
        if step % config.eval_every == 0:
            evaluator(q_net, step)
            if config.stop_when_solved and evaluator.solved_step is not None:
                break
    env.close()
    return result_from("DQN", seed, evaluator, episode_returns, episode_ends)
