"""The SVI state keeps its abstract shape across steps, so a training chunk compiles once."""

import equinox as eqx
import jax
import numpy as np
import pytest

import scribe
from scribe.build import make_guide_and_encoder, make_model
from scribe.config import FitConfig, ModelConfig, SviConfig
from scribe.inference._svi import init_state, make_optimizer, run_steps


def _avals(tree):
    return [
        (x.shape, x.dtype, x.weak_type)
        for x in jax.tree.leaves(eqx.filter(tree, eqx.is_inexact_array))
    ]


@pytest.mark.parametrize("guide_rank", [None, 2])
@pytest.mark.parametrize("amortize_capture", [False, True])
def test_a_step_returns_the_state_it_was_given(guide_rank, amortize_capture):
    """Same shapes, dtypes and weak types in and out: otherwise the jitted chunk that
    continues a run would be traced and compiled a second time."""
    counts = np.random.default_rng(0).negative_binomial(2, 0.5, (30, 5))
    data = scribe.data.load_counts(counts)
    config = FitConfig(
        model=ModelConfig(model="nbvcp"),
        guide_rank=guide_rank,
        seed=0,
        svi=SviConfig(amortize_capture=amortize_capture),
    )
    model = make_model(config, data)
    guide, encoder = make_guide_and_encoder(model, config, data)
    optimizer = make_optimizer(0.01)
    state = init_state(guide, encoder, optimizer, key=jax.random.key(0))
    assert not any(weak for *_, weak in _avals(state))
    after, _ = run_steps(
        state, model, optimizer, data.to_device(), n_steps=2, batch_size=10, capacity=200
    )
    assert _avals(after) == _avals(state)
