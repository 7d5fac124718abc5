"""Shared test configuration: float64 available, strict rank promotion, a PRNG key."""

import gc

import jax
import pytest

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def key():
    """A fresh new-style PRNG key."""
    return jax.random.key(0)


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Drop each module's compiled programs when it is done.

    A whole-suite run compiles thousands of XLA programs; kept alive together they ran
    XLA's CPU compiler into a segmentation fault late in the session (twice, in
    different tests that pass on their own).
    """
    yield
    jax.clear_caches()
    gc.collect()
