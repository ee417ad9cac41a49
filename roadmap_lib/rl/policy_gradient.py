"""Policy-gradient methods on the same environments as DQN: REINFORCE with a learned baseline and
synchronous advantage actor-critic (A2C) with generalised advantage estimation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from ..runtime import progress
from ..validation import require_float, require_int, require_positive_float, require_positive_int, require_type
from .common import Evaluator, TrainResult, check_discrete_env, make_env, mlp, result_from

# --------------------------------------------------------------------------------------------------
# Policy gradient: REINFORCE with a learned baseline, and advantage actor-critic (A2C)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyGradientConfig:
    """Hyper-parameters both policy-gradient methods share: separate policy and value networks, each
    trained by Adam with its own learning rate and a clipped gradient norm, and the same greedy
    evaluation schedule as DQN."""

    env_id: str = "CartPole-v1"
    total_steps: int = 150_000
    policy_lr: float = 1e-3
    value_lr: float = 3e-3
    gamma: float = 0.99
    hidden: tuple[int, ...] = (64, 64)
    max_grad_norm: float = 1.0
    eval_every: int = 2_500
    eval_episodes: int = 20
    solved_return: float = 475.0
    stop_when_solved: bool = False

    def __post_init__(self) -> None:
        require_type("env_id", self.env_id, str)
        for name in ("total_steps", "eval_every", "eval_episodes"):
            require_positive_int(name, getattr(self, name))
        for name in ("policy_lr", "value_lr", "max_grad_norm"):
            require_positive_float(name, getattr(self, name))
        require_float("gamma", self.gamma, low=0.0, high=1.0)
        require_type("hidden", self.hidden, tuple)
        for i, width in enumerate(self.hidden):
            require_positive_int(f"hidden[{i}]", width)
        require_float("solved_return", self.solved_return)
        require_type("stop_when_solved", self.stop_when_solved, bool)


@dataclass(frozen=True)
class ReinforceConfig(PolicyGradientConfig):
    """REINFORCE with a learned state-value baseline (Williams 1992; Sutton & Barto 2018, §13.4).

    One update per batch of ``episodes_per_update`` complete episodes: the return-to-go ``G_t`` of each
    step, minus the baseline ``V(s_t)``, weights ``∇ log π(a_t|s_t)``. The baseline does not bias the
    gradient but cuts its variance, which is what makes plain Monte-Carlo policy gradient usable.
    """

    policy_lr: float = 2e-3
    value_lr: float = 5e-3
    episodes_per_update: int = 4

    def __post_init__(self) -> None:
        super().__post_init__()
        require_positive_int("episodes_per_update", self.episodes_per_update)


@dataclass(frozen=True)
class A2CConfig(PolicyGradientConfig):
    """Synchronous advantage actor-critic (A2C, the batched form of Mnih et al. 2016's A3C).

    ``n_envs`` copies of the environment step together for ``n_steps``; the critic's bootstrapped
    estimate replaces the Monte-Carlo return, and generalised advantage estimation (GAE, Schulman
    et al. 2016) with ``gae_lambda`` trades the critic's bias against the return's variance.
    """

    gae_lambda: float = 0.95
    n_envs: int = 8
    n_steps: int = 32
    entropy_coef: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        require_positive_int("n_envs", self.n_envs)
        require_positive_int("n_steps", self.n_steps)
        require_float("gae_lambda", self.gae_lambda, low=0.0, high=1.0)
        require_float("entropy_coef", self.entropy_coef, low=0.0)


def returns_to_go(rewards: Sequence[float], gamma: float) -> np.ndarray:
    """``G_t = r_t + γ r_{t+1} + γ² r_{t+2} + …`` for every step of one episode."""
    gamma = require_float("gamma", gamma, low=0.0, high=1.0)
    try:  # float64 holds every float32 and Python float exactly, so the sums below are unchanged
        episode = np.asarray(rewards, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"rewards must be a sequence of numbers, got {type(rewards).__name__}") from err
    if episode.ndim != 1:
        raise ValueError(f"rewards must be 1-D (the rewards of one episode), got shape {episode.shape}")
    out = np.zeros(len(episode), dtype=np.float32)
    running = 0.0
    for t in range(len(episode) - 1, -1, -1):
        running = float(episode[t]) + gamma * running
        out[t] = running
    return out


def gae_advantages(rewards: np.ndarray, values: np.ndarray, next_values: np.ndarray, terminated: np.ndarray,
                   episode_end: np.ndarray, gamma: float, lam: float) -> np.ndarray:
    """Generalised advantage estimates over a ``(n_steps, n_envs)`` rollout (Schulman et al. 2016).

    ``next_values[t]`` is ``V(s_{t+1})`` of the state the step *led to* (before any reset), so a
    time-limit truncation still bootstraps; ``terminated`` zeroes the bootstrap, and ``episode_end``
    (terminated or truncated) stops the advantage from leaking across an episode boundary.
    """
    gamma = require_float("gamma", gamma, low=0.0, high=1.0)
    lam = require_float("lam", lam, low=0.0, high=1.0)
    arrays = {"rewards": rewards, "values": values, "next_values": next_values, "terminated": terminated,
              "episode_end": episode_end}
    for name, array in arrays.items():
        require_type(name, array, np.ndarray)
    shapes = {a.shape for a in arrays.values()}
    if len(shapes) != 1 or rewards.ndim != 2:
        raise ValueError(f"rewards, values, next_values, terminated, episode_end must share one (steps, envs) shape, got {shapes}")
    advantages = np.zeros_like(rewards, dtype=np.float32)
    running = np.zeros(rewards.shape[1], dtype=np.float32)
    for t in range(rewards.shape[0] - 1, -1, -1):
        delta = rewards[t] + gamma * (1.0 - terminated[t]) * next_values[t] - values[t]
        running = delta + gamma * lam * (1.0 - episode_end[t]) * running
        advantages[t] = running
    return advantages


def _policy_and_value(env: gym.Env, hidden: tuple[int, ...], seed: int) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(seed)
    obs_dim, n_actions = check_discrete_env(env)
    return mlp([obs_dim, *hidden, n_actions]), mlp([obs_dim, *hidden, 1])


def _step_optimizer(optimizer: torch.optim.Optimizer, loss: torch.Tensor, net: nn.Module, max_norm: float) -> None:
    optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(net.parameters(), max_norm)
    optimizer.step()


def train_reinforce(config: ReinforceConfig = ReinforceConfig(), seed: int = 0) -> TrainResult:
    """Train REINFORCE with a baseline; evaluation, early stopping and result as :func:`train_dqn`."""
    require_type("config", config, ReinforceConfig)
    seed = require_int("seed", seed, minimum=0)
    env = make_env(config.env_id)
    policy, value = _policy_and_value(env, config.hidden, seed)
    policy_opt = torch.optim.Adam(policy.parameters(), lr=config.policy_lr)
    value_opt = torch.optim.Adam(value.parameters(), lr=config.value_lr)
    evaluator = Evaluator(config.env_id, config.eval_episodes, config.solved_return, seed=10_000 + 100 * seed)
    bar = progress(range(config.total_steps), desc=f"REINFORCE seed {seed}", total=config.total_steps)
    step, next_eval = 0, config.eval_every
    episode_returns: list[float] = []
    episode_ends: list[int] = []
    obs, _ = env.reset(seed=seed)
    while step < config.total_steps:
        states, actions, targets = [], [], []
        for _ in range(config.episodes_per_update):
            rewards: list[float] = []
            done = False
            while not done:
                with torch.no_grad():
                    logits = policy(torch.as_tensor(obs, dtype=torch.float32))
                action = int(torch.distributions.Categorical(logits=logits).sample())
                states.append(obs)
                actions.append(action)
                obs, reward, terminated, truncated, _ = env.step(action)
                rewards.append(float(reward))
                step += 1
                next(bar, None)
                done = terminated or truncated
            targets.append(returns_to_go(rewards, config.gamma))
            episode_returns.append(sum(rewards))
            episode_ends.append(step)
            obs, _ = env.reset()
        s = torch.as_tensor(np.asarray(states, dtype=np.float32))
        a = torch.as_tensor(actions)
        g = torch.as_tensor(np.concatenate(targets))
        baseline = value(s).squeeze(1)
        advantage = (g - baseline).detach()
        advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
        log_prob = torch.distributions.Categorical(logits=policy(s)).log_prob(a)
        _step_optimizer(policy_opt, -(log_prob * advantage).mean(), policy, config.max_grad_norm)
        _step_optimizer(value_opt, nn.functional.mse_loss(baseline, g), value, config.max_grad_norm)
        if step >= next_eval:
            evaluator(policy, step)
            next_eval += config.eval_every * (1 + (step - next_eval) // config.eval_every)
        if config.stop_when_solved and evaluator.solved_step is not None:
            break
    env.close()
    return result_from("REINFORCE", seed, evaluator, episode_returns, episode_ends)


def train_a2c(config: A2CConfig = A2CConfig(), seed: int = 0) -> TrainResult:
    """Train synchronous A2C with GAE; evaluation, early stopping and result as :func:`train_dqn`."""
    require_type("config", config, A2CConfig)
    seed = require_int("seed", seed, minimum=0)
    envs = [make_env(config.env_id) for _ in range(config.n_envs)]
    policy, value = _policy_and_value(envs[0], config.hidden, seed)
    policy_opt = torch.optim.Adam(policy.parameters(), lr=config.policy_lr)
    value_opt = torch.optim.Adam(value.parameters(), lr=config.value_lr)
    evaluator = Evaluator(config.env_id, config.eval_episodes, config.solved_return, seed=10_000 + 100 * seed)
    obs = np.stack([env.reset(seed=seed * 1_000 + i)[0] for i, env in enumerate(envs)]).astype(np.float32)
    running_returns = np.zeros(config.n_envs)
    episode_returns: list[float] = []
    episode_ends: list[int] = []
    shape = (config.n_steps, config.n_envs)
    per_update = config.n_steps * config.n_envs
    step, next_eval = 0, config.eval_every
    for _ in progress(range(config.total_steps // per_update), desc=f"A2C seed {seed}"):
        states = np.zeros((*shape, obs.shape[1]), dtype=np.float32)
        next_states = np.zeros_like(states)
        actions = np.zeros(shape, dtype=np.int64)
        rewards, terminated, episode_end = (np.zeros(shape, dtype=np.float32) for _ in range(3))
        for t in range(config.n_steps):
            with torch.no_grad():
                sampled = torch.distributions.Categorical(logits=policy(torch.from_numpy(obs))).sample().numpy()
            states[t], actions[t] = obs, sampled
            for i, env in enumerate(envs):
                next_obs, reward, term, trunc, _ = env.step(int(sampled[i]))
                rewards[t, i], terminated[t, i], episode_end[t, i] = reward, term, term or trunc
                next_states[t, i] = next_obs
                running_returns[i] += reward
                if term or trunc:
                    episode_returns.append(float(running_returns[i]))
                    episode_ends.append(step + (t + 1) * config.n_envs)
                    running_returns[i] = 0.0
                    next_obs, _ = env.reset()
                obs[i] = next_obs
        step += per_update
        with torch.no_grad():
            values = value(torch.from_numpy(states)).squeeze(-1).numpy()
            next_values = value(torch.from_numpy(next_states)).squeeze(-1).numpy()
        adv = gae_advantages(rewards, values, next_values, terminated, episode_end, config.gamma, config.gae_lambda)
        returns = torch.from_numpy(adv + values).reshape(-1)
        adv_t = torch.from_numpy(adv).reshape(-1)
        adv_t = (adv_t - adv_t.mean()) / (adv_t.std() + 1e-8)
        s = torch.from_numpy(states).reshape(per_update, -1)
        dist = torch.distributions.Categorical(logits=policy(s))
        policy_loss = -(dist.log_prob(torch.from_numpy(actions).reshape(-1)) * adv_t).mean()
        policy_loss = policy_loss - config.entropy_coef * dist.entropy().mean()
        _step_optimizer(policy_opt, policy_loss, policy, config.max_grad_norm)
        _step_optimizer(value_opt, nn.functional.mse_loss(value(s).squeeze(1), returns), value, config.max_grad_norm)
        if step >= next_eval:
            evaluator(policy, step)
            next_eval += config.eval_every * (1 + (step - next_eval) // config.eval_every)
        if config.stop_when_solved and evaluator.solved_step is not None:
            break
    for env in envs:
        env.close()
    return result_from("A2C", seed, evaluator, episode_returns, episode_ends)


