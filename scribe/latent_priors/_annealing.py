"""KL annealing: the weight of the KL term while the ELBO warms up."""

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from ._checks import check_int


def kl_weight(step: ArrayLike, *, warmup_steps: int | None) -> Float[Array, ""]:
    """The linear KL warm-up weight, ``min(1, step / warmup_steps)``.

    Parameters
    ----------
    step
        The training step (a Python int or a traced integer under jit).
    warmup_steps
        The number of steps over which the weight rises from 0 to 1; ``0`` or ``None``
        disables annealing (the weight is always 1).

    Returns
    -------
    The weight, a scalar in ``[0, 1]``.

    Examples
    --------
    >>> from scribe.latent_priors import kl_weight
    >>> float(kl_weight(50, warmup_steps=200)), float(kl_weight(500, warmup_steps=200))
    (0.25, 1.0)
    """
    if warmup_steps is None or check_int("warmup_steps", warmup_steps, minimum=0) == 0:
        return jnp.ones((), dtype=jnp.result_type(float))
    step = jnp.asarray(step, dtype=jnp.result_type(float))
    return jnp.clip(step / warmup_steps, 0.0, 1.0)
