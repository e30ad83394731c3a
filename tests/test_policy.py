from __future__ import annotations

import numpy as np
import torch

from optuna_rena._sampler.policy import RenaPolicy
from optuna_rena._sampler.policy import Step
from optuna_rena._space import DecisionContext


LAYERS = [["type=conv2d", "conv2d.filters=32"], ["type=pool"], ["type=dense", "dense.units=10"]]


def _episodes(rng: np.random.RandomState) -> list[list[Step]]:
    """Episodes of different lengths over decisions of different widths, some about a
    layer, some pointing at layers, some about none, as a space's insertions make them."""
    contexts = [
        DecisionContext(0, "scale.filters", ("x0.5", "x1", "x2"), (None, None, None)),
        DecisionContext(None, "insert.position", ("at0", "at1", "at2", "at3"), (0, 1, 2, None)),
        DecisionContext(1, "remove", ("keep", "remove"), (None, None)),
        DecisionContext(2, "scale.units", ("x0.5", "x1"), (None, None)),
    ]
    out = []
    for length in (4, 1, 6, 3, 6):
        picks = [contexts[rng.randint(len(contexts))] for _ in range(length)]
        out.append([Step(x, rng.randint(len(x.choice_tokens))) for x in picks])
    return out


@torch.no_grad()
def _one_step_at_a_time(policy: RenaPolicy, episode: list[Step]) -> tuple[float, float]:
    """The episode's log-probability and entropy as the sampler takes its decisions."""
    layers = policy.encode(LAYERS)
    state = policy.initial_state(1)
    log_prob = entropy = 0.0
    for step in episode:
        logits, choices, state = policy.scores(state, layers, [step.context])
        p = torch.softmax(logits[0], dim=0)
        real = torch.isfinite(logits[0])
        log_prob += float(torch.log(p[step.chosen]))
        entropy -= float((p[real] * torch.log(p[real])).sum())
        state = policy.advance(state, choices, torch.tensor([step.chosen]))
    return log_prob, entropy


def test_teacher_forced_evaluation_equals_the_decisions_taken_one_by_one() -> None:
    torch.manual_seed(0)
    policy = RenaPolicy(embedding_dim=8, hidden_size=16)
    episodes = _episodes(np.random.RandomState(0))
    log_prob, entropy = policy.evaluate(LAYERS, episodes)
    for b, episode in enumerate(episodes):
        expected = _one_step_at_a_time(policy, episode)
        assert np.allclose([float(log_prob[b]), float(entropy[b])], expected, atol=1e-5)
    # Padding behind the shorter episodes changes nothing: each alone gives the same.
    alone = torch.cat([policy.evaluate(LAYERS, [e])[0] for e in episodes])
    assert torch.allclose(alone, log_prob, atol=1e-5)


def test_evaluation_gives_every_part_of_the_policy_a_gradient() -> None:
    torch.manual_seed(0)
    policy = RenaPolicy(embedding_dim=8, hidden_size=16)
    log_prob, entropy = policy.evaluate(LAYERS, _episodes(np.random.RandomState(1)))
    (log_prob.sum() + entropy.sum()).backward()
    for name, parameter in policy.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_evaluation_of_empty_episodes_is_zero() -> None:
    log_prob, entropy = RenaPolicy().evaluate(LAYERS, [[], []])
    assert log_prob.tolist() == [0.0, 0.0] and entropy.tolist() == [0.0, 0.0]
