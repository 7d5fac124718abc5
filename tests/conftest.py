"""Shared test configuration: float64 available, strict rank promotion, a PRNG key."""

import jax
import pytest

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def key():
    """A fresh new-style PRNG key."""
    return jax.random.key(0)
