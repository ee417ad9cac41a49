"""Looking inside a trained agent: roll it out (with frames), and ask which state features drive it.

Two complementary answers to "what does the Q-network look at?": gradient saliency (how fast the
chosen action's Q-value changes with each feature, Simonyan et al. 2014) is local and cheap;
permutation importance (how often the greedy action flips when one feature is shuffled across the
visited states, Breiman 2001) is global and says what the *decision* depends on.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch import nn

from ..validation import require_int, require_non_empty, require_positive_int, require_type
from .common import as_obs_batch, check_net_fits, input_width, make_env


@torch.no_grad()
def greedy_rollout(net: nn.Module, env_id: str = "CartPole-v1", *, seed: int = 0, max_steps: int = 500,
                   render_every: int | None = None) -> dict[str, Any]:
    """One greedy episode: ``states`` (T, d), ``actions`` (T,), ``return`` and, when ``render_every``
    is set, ``frames`` (RGB arrays from ``render_mode="rgb_array"``) every that many steps."""
    require_type("net", net, nn.Module)
    max_steps = require_positive_int("max_steps", max_steps)
    if render_every is not None:
        render_every = require_positive_int("render_every", render_every)
    if render_every:
        # Off-screen frames need no window; without this SDL probes for a display and, on a headless
        # machine, prints "XDG_RUNTIME_DIR is invalid" to stderr. A reader's own setting wins.
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    env = make_env(env_id, render_mode="rgb_array" if render_every else None)
    check_net_fits(net, env)
    obs, _ = env.reset(seed=require_int("seed", seed, minimum=0))
    states, actions, frames, total = [], [], [], 0.0
    for t in range(max_steps):
        if render_every and t % render_every == 0:
            frames.append(env.render())
        action = int(net(torch.as_tensor(obs, dtype=torch.float32).unsqueeze(0)).argmax())
        states.append(obs)
        actions.append(action)
        obs, reward, terminated, truncated, _ = env.step(action)
        total += float(reward)
        if terminated or truncated:
            break
    env.close()
    return {"states": np.asarray(states, dtype=np.float32), "actions": np.asarray(actions), "return": total,
            "frames": frames}


def q_saliency(q_net: nn.Module, states: Any) -> np.ndarray:
    """``|∂ Q(s, a*) / ∂ s|`` per state and feature, where ``a*`` is the greedy action in ``s``.

    Written out by hand because it is what the chapter teaches; ``captum.attr.Saliency`` with
    ``abs=True`` and ``target=a*`` returns the same numbers (the chapter checks it).
    """
    require_type("q_net", q_net, nn.Module)
    obs_dim = input_width(q_net)
    x = as_obs_batch(states, obs_dim).clone().requires_grad_(True)
    q = q_net(x)
    chosen = q.gather(1, q.argmax(dim=1, keepdim=True)).sum()
    (grad,) = torch.autograd.grad(chosen, x)
    return grad.abs().numpy()


@torch.no_grad()
def permutation_importance(q_net: nn.Module, states: Any, *, repeats: int = 5, seed: int = 0) -> np.ndarray:
    """Per feature: the share of states whose greedy action changes when that feature is shuffled."""
    require_type("q_net", q_net, nn.Module)
    repeats = require_positive_int("repeats", repeats)
    x = require_non_empty("states", as_obs_batch(states, input_width(q_net)))  # none: every share is 0/0
    rng = np.random.default_rng(require_int("seed", seed, minimum=0))
    base = q_net(x).argmax(dim=1)
    flips = np.zeros(x.shape[1])
    for j in range(x.shape[1]):
        for _ in range(repeats):
            shuffled = x.clone()
            shuffled[:, j] = x[torch.from_numpy(rng.permutation(len(x))), j]
            flips[j] += (q_net(shuffled).argmax(dim=1) != base).float().mean().item()
    return flips / repeats
