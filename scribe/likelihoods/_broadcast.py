"""Sums over one axis of 2-D broadcast arrays, without forming the broadcast array.

The sparse path sums ``log p(0 | θ)`` over all ``cells × genes`` entries. With per-gene
and per-cell parameters that array is rank one in structure (``r_g log(1 - p̂_c)``); at
10⁴ cells × 10³ genes forming it costs more than the rest of a training step.
"""

import jax.numpy as jnp
from jaxtyping import Array, Float


def sum_broadcast(x: Float[Array, "a b"], shape: tuple[int, int], axis: int) -> Array:
    """``jnp.broadcast_to(x, shape).sum(axis)``, scaling instead of broadcasting size-1 axes.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> sum_broadcast(jnp.array([[1.0, 2.0]]), (3, 2), axis=0).tolist()
    [3.0, 6.0]
    """
    kept = shape[1 - axis]
    summed = x.sum(axis) if x.shape[axis] > 1 else x.squeeze(axis) * shape[axis]
    return jnp.broadcast_to(summed, (kept,))


def sum_broadcast_product(
    x: Float[Array, "a b"], y: Float[Array, "c d"], shape: tuple[int, int], axis: int
) -> Array:
    """``jnp.broadcast_to(x * y, shape).sum(axis)`` for 2-D ``x`` and ``y``.

    When one factor is constant along ``axis`` it comes out of the sum, so the product
    is never formed at full size.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> r, log1m_p = jnp.array([[1.0, 2.0, 3.0]]), jnp.array([[-1.0], [-2.0]])
    >>> sum_broadcast_product(r, log1m_p, (2, 3), axis=1).tolist()
    [-6.0, -12.0]
    """
    kept = shape[1 - axis]
    if x.shape[axis] == 1:
        return jnp.broadcast_to(x.squeeze(axis), (kept,)) * sum_broadcast(y, shape, axis)
    if y.shape[axis] == 1:
        return jnp.broadcast_to(y.squeeze(axis), (kept,)) * sum_broadcast(x, shape, axis)
    return sum_broadcast(x * y, shape, axis)
