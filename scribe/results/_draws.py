"""Posterior draws as results methods read them: MCMC draws chosen, keys defaulted."""

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PRNGKeyArray

from ..inference import McmcDraws


def check_n_samples(n_samples: Any) -> None:
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive int or None, found {n_samples!r}")


def mcmc_draws(
    draws: McmcDraws, n_samples: int | None, key: PRNGKeyArray | None
) -> tuple[dict, dict]:
    """Every draw (``n_samples`` None) or ``n_samples`` distinct ones chosen by ``key``,
    globals and locals of each draw together, in jax's default float precision."""
    globals_, locals_ = draws.flat()
    total = draws.n_chains * draws.n_draws
    if n_samples is not None:
        check_n_samples(n_samples)
        if n_samples > total:
            raise ValueError(
                f"n_samples must be <= the {total} MCMC draws ({draws.n_chains} chains × "
                f"{draws.n_draws}), found {n_samples}; n_samples=None gives them all"
            )
        index = np.asarray(jax.random.choice(key_or(key, 0), total, (n_samples,), replace=False))
        globals_, locals_ = jax.tree.map(lambda x: x[index], (globals_, locals_))
    return jax.tree.map(jnp.asarray, (globals_, locals_))


def key_or(key: PRNGKeyArray | None, seed: int) -> PRNGKeyArray:
    return jax.random.key(seed) if key is None else key
