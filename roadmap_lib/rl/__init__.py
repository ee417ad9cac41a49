"""Part III, reinforcement learning and decision intelligence: agents that learn, on real environments.

The chapter imports everything from here; the modules split the work as CleanRL would:

- ``common``           checked gymnasium environments, MLPs, greedy evaluation, training results
- ``dqn``              DQN: hyper-parameters, replay buffer, TD target, loss, training loop
- ``policy_gradient``  REINFORCE with a baseline and advantage actor-critic (A2C, GAE)
- ``bandits``          a documented recommender simulator and ε-greedy / UCB / Thompson / LinUCB policies
- ``multiagent``       two independent Q-learners in a matrix game (non-stationarity)
- ``analysis``         greedy roll-outs with frames, gradient saliency, permutation importance
- ``studies``          the recorded benchmarks (``python -m roadmap_lib.rl benchmark``)
"""

from .analysis import greedy_rollout, permutation_importance, q_saliency
from .bandits import (
    BernoulliThompson,
    EpsilonGreedy,
    LinearThompson,
    LinUCB,
    RandomPolicy,
    RecommenderSimulator,
    UCB1,
    run_bandit,
)
from .common import TrainResult, check_discrete_env, evaluate_greedy, make_env, mlp, random_returns
from .dqn import Batch, DQNConfig, ReplayBuffer, dqn_loss, linear_schedule, td_targets, train_dqn
from .multiagent import MATCHING_PENNIES, epsilon_greedy_probs, independent_q_learning, policy_switches
from .policy_gradient import A2CConfig, ReinforceConfig, gae_advantages, returns_to_go, train_a2c, train_reinforce
from .studies import BENCHMARKS

__all__ = [
    "A2CConfig", "BENCHMARKS", "Batch", "BernoulliThompson", "DQNConfig", "EpsilonGreedy", "LinUCB",
    "LinearThompson", "MATCHING_PENNIES", "RandomPolicy", "RecommenderSimulator", "ReinforceConfig",
    "ReplayBuffer", "TrainResult", "UCB1", "check_discrete_env", "dqn_loss", "epsilon_greedy_probs",
    "evaluate_greedy", "gae_advantages", "greedy_rollout", "independent_q_learning", "linear_schedule",
    "make_env", "mlp", "permutation_importance", "policy_switches", "q_saliency", "random_returns", "returns_to_go",
    "run_bandit", "td_targets", "train_a2c", "train_dqn", "train_reinforce",
]
