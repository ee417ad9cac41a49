"""Plumbing every agent of Part III shares: checked environments, networks, greedy evaluation, results.

Kept apart from the learning rules (``dqn``, ``policy_gradient``) so each algorithm reads top to bottom
as in CleanRL, and so every agent is evaluated by exactly the same code on the same start states.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from ..validation import require_int, require_positive_int, require_type

# --------------------------------------------------------------------------------------------------
# Environments
# --------------------------------------------------------------------------------------------------


def make_env(env_id: str = "CartPole-v1", *, render_mode: str | None = None) -> gym.Env:
    """A gymnasium environment checked to suit a discrete-action learner with a flat observation.

    Why check here: DQN and the policy-gradient heads below emit one output per action, which only
    exists for a ``Discrete`` action space; a ``Box`` (continuous) space would fail much later with a
    shape error inside PyTorch.
    """
    require_type("env_id", env_id, str)
    env = gym.make(env_id, render_mode=render_mode)
    check_discrete_env(env)
    return env


def check_discrete_env(env: gym.Env) -> tuple[int, int]:
    """Return ``(observation size, number of actions)``; reject spaces these learners cannot handle."""
    require_type("env", env, gym.Env)
    if not isinstance(env.action_space, gym.spaces.Discrete):
        raise ValueError(
            f"env must have a Discrete action space (one Q-value per action); got {env.action_space}. "
            "For continuous actions use an actor-critic such as SAC or TD3."
        )
    space = env.observation_space
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        raise ValueError(f"env must have a flat Box observation space, got {space}")
    return int(space.shape[0]), int(env.action_space.n)


def mlp(sizes: Sequence[int]) -> nn.Sequential:
    """A ReLU multilayer perceptron with the given layer widths (no activation after the last layer)."""
    require_type("sizes", sizes, (list, tuple))
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least an input and an output width, got {list(sizes)}")
    for i, size in enumerate(sizes):
        require_positive_int(f"sizes[{i}]", size)
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def as_obs_batch(states: Any, obs_dim: int, name: str = "states") -> torch.Tensor:
    """A float32 ``(batch, obs_dim)`` tensor from an array-like, or a ``ValueError`` naming the shape."""
    obs_dim = require_positive_int("obs_dim", obs_dim)
    try:
        array = np.asarray(states, dtype=np.float32)
    except (TypeError, ValueError) as err:  # strings, ragged lists: NumPy's message would not say which argument
        raise TypeError(f"{name} must be an array of numbers, got {type(states).__name__}") from err
    tensor = torch.as_tensor(array)
    if tensor.ndim == 1:
        tensor = tensor.unsqueeze(0)
    if tensor.ndim != 2 or tensor.shape[1] != obs_dim:
        raise ValueError(f"{name} must have shape ({obs_dim},) or (batch, {obs_dim}), got {tuple(tensor.shape)}")
    return tensor


# --------------------------------------------------------------------------------------------------
# Greedy evaluation (shared by every agent in the chapter)
# --------------------------------------------------------------------------------------------------


@torch.no_grad()
def input_width(net: nn.Module) -> int:
    """The input size of an MLP's first linear layer."""
    require_type("net", net, nn.Module)
    first = next((m for m in net.modules() if isinstance(m, nn.Linear)), None)
    if first is None:
        raise ValueError("net must contain an nn.Linear layer (an MLP over the observation)")
    return first.in_features


def check_net_fits(net: nn.Module, env: gym.Env) -> None:
    """Reject a network whose input or output width does not match ``env`` (one output per action).

    Why: a mismatch otherwise surfaces as a matrix-shape error inside PyTorch, or, worse, as an
    argmax over the wrong number of outputs that picks actions the environment does not have.
    """
    require_type("net", net, nn.Module)
    obs_dim, n_actions = check_discrete_env(env)
    if input_width(net) != obs_dim:
        raise ValueError(f"net takes {input_width(net)} inputs, but the environment's observations have {obs_dim}")
    with torch.no_grad():
        out = net(torch.zeros(1, obs_dim))
    if tuple(out.shape) != (1, n_actions):
        raise ValueError(f"net must output one value per action ({n_actions}), got shape {tuple(out.shape)}")


def evaluate_greedy(net: nn.Module, env_id: str = "CartPole-v1", *, episodes: int = 20,
                    seed: int = 10_000) -> np.ndarray:
    """Returns of ``episodes`` greedy episodes (argmax of ``net``'s outputs), run side by side.

    Why side by side: evaluating 20 CartPole episodes of up to 500 steps one at a time costs 10,000
    network calls; stepping all unfinished episodes together makes that ≤ 500 batched calls.
    Episode ``i`` is reset with seed ``seed + i``, so every agent meets the same start states.
    """
    require_type("net", net, nn.Module)
    episodes = require_positive_int("episodes", episodes)
    seed = require_int("seed", seed, minimum=0)
    envs = [make_env(env_id) for _ in range(episodes)]
    check_net_fits(net, envs[0])
    obs = np.stack([env.reset(seed=seed + i)[0] for i, env in enumerate(envs)]).astype(np.float32)
    returns = np.zeros(episodes)
    alive = np.ones(episodes, dtype=bool)
    was_training = net.training
    net.eval()
    while alive.any():
        idx = np.flatnonzero(alive)
        actions = net(torch.from_numpy(obs[idx])).argmax(dim=1).numpy()
        for i, action in zip(idx, actions):
            next_obs, reward, terminated, truncated, _ = envs[i].step(int(action))
            returns[i] += reward
            obs[i] = next_obs
            alive[i] = not (terminated or truncated)
    net.train(was_training)
    for env in envs:
        env.close()
    return returns


# --------------------------------------------------------------------------------------------------
# Training runs: the record every learner returns, and evaluation during training
# --------------------------------------------------------------------------------------------------


def random_returns(env_id: str = "CartPole-v1", *, episodes: int = 20, seed: int = 10_000) -> np.ndarray:
    """Returns of a uniformly random policy on the same start states as :func:`evaluate_greedy`:
    the floor any learner must clear (about 22 on CartPole-v1, −500 on Acrobot-v1)."""
    episodes = require_positive_int("episodes", episodes)
    seed = require_int("seed", seed, minimum=0)
    env = make_env(env_id)
    env.action_space.seed(seed)
    returns = np.zeros(episodes)
    for i in range(episodes):
        env.reset(seed=seed + i)
        done = False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            returns[i] += reward
            done = terminated or truncated
    env.close()
    return returns


@dataclass
class TrainResult:
    """What a training run reports: the evaluation curve, when it first solved, and the best network.

    ``best_net`` is the network of the best evaluation (early stopping: value-based agents on CartPole
    often reach 500 and then collapse, so the checkpoint, not the last weights, is what one deploys).
    """

    algorithm: str
    seed: int
    eval_steps: list[int]
    eval_means: list[float]
    eval_seconds: list[float]  # process CPU seconds since the run began, at each evaluation
    solved_step: int | None  # first environment step at which the greedy evaluation reached the bar
    best_mean: float
    best_step: int
    seconds: float  # process CPU time of the run
    episode_returns: list[float] = field(default_factory=list)
    episode_end_steps: list[int] = field(default_factory=list)
    best_net: nn.Module | None = None

    def summary(self) -> dict[str, Any]:
        """A JSON-ready dict (no network)."""
        data = dataclasses.asdict(dataclasses.replace(self, best_net=None))
        data.pop("best_net")
        return data


class Evaluator:
    """Tracks the evaluation curve, the best checkpoint and the first solved step during training."""

    def __init__(self, env_id: str, episodes: int, solved_return: float, seed: int) -> None:
        self.env_id, self.episodes, self.solved_return, self.seed = env_id, episodes, solved_return, seed
        self.start = time.process_time()
        self.steps: list[int] = []
        self.means: list[float] = []
        self.seconds: list[float] = []
        self.solved_step: int | None = None
        self.best_mean, self.best_step, self.best_net = -np.inf, 0, None

    def __call__(self, net: nn.Module, step: int) -> float:
        mean = float(evaluate_greedy(net, self.env_id, episodes=self.episodes, seed=self.seed).mean())
        self.steps.append(step)
        self.means.append(mean)
        self.seconds.append(time.process_time() - self.start)
        if mean > self.best_mean:
            self.best_mean, self.best_step, self.best_net = mean, step, copy.deepcopy(net)
        if self.solved_step is None and mean >= self.solved_return:
            self.solved_step = step
        return mean


def result_from(algorithm: str, seed: int, evaluator: Evaluator, episode_returns: list[float],
                episode_ends: list[int]) -> TrainResult:
    """Package a finished run; its CPU time is counted from the evaluator's creation.

    Checked because a custom training loop calls this too: mismatched episode lists would otherwise
    yield a record whose returns and end steps silently no longer pair up.
    """
    require_type("algorithm", algorithm, str)
    require_int("seed", seed, minimum=0)
    require_type("evaluator", evaluator, Evaluator)
    require_type("episode_returns", episode_returns, list)
    require_type("episode_ends", episode_ends, list)
    if len(episode_returns) != len(episode_ends):
        raise ValueError(
            f"episode_returns and episode_ends must pair up (one end step per episode), "
            f"got {len(episode_returns)} and {len(episode_ends)}"
        )
    return TrainResult(
        algorithm=algorithm, seed=seed, eval_steps=evaluator.steps, eval_means=evaluator.means,
        eval_seconds=evaluator.seconds,
        solved_step=evaluator.solved_step, best_mean=float(evaluator.best_mean), best_step=evaluator.best_step,
        seconds=time.process_time() - evaluator.start, episode_returns=episode_returns, episode_end_steps=episode_ends,
        best_net=evaluator.best_net,
    )
