"""What a mixture adds to the model: the weights' prior, per-cell weights under an
annotation, and the layout of component-specific parameters.

The K mixing weights are sampled as K - 1 unconstrained stick-breaking logits
(``mixing_logits``), so every engine sees a real-valued coordinate; their prior is the
Dirichlet on the weights pulled back through the stick-breaking map (Jacobian included).
"""

from collections.abc import Collection, Mapping

import jax
import jax.numpy as jnp
import numpyro.distributions as dist
from jaxtyping import Array, Float, Int
from numpyro.distributions.transforms import StickBreakingTransform

# The original SCRIBE's (and the usual) prior on the weights: Dirichlet(1, ..., 1).
DEFAULT_CONCENTRATION = 1.0
MIXING = "mixing_logits"


def mixing_prior(n_components: int, concentration: float = DEFAULT_CONCENTRATION):
    """``Dirichlet(concentration · 1_K)`` on the weights, as a distribution over the
    ``K - 1`` stick-breaking logits (``log_prob`` includes the map's Jacobian)."""
    alpha = jnp.full((n_components,), concentration)
    return dist.TransformedDistribution(dist.Dirichlet(alpha), StickBreakingTransform().inv)


def mixing_weights(logits: Float[Array, "... k_minus_1"]) -> Float[Array, "... k"]:
    """The weights on the simplex of the stick-breaking logits (any leading axes)."""
    return jnp.vectorize(StickBreakingTransform(), signature="(k)->(m)")(logits)


def mixing_logits(weights: Float[Array, "... k"]) -> Float[Array, "... k_minus_1"]:
    """The stick-breaking logits of weights on the simplex (inverse of ``mixing_weights``)."""
    return jnp.vectorize(StickBreakingTransform().inv, signature="(m)->(k)")(weights)


def cell_log_weights(
    log_weights: Float[Array, " k"],
    labels: Int[Array, " batch"] | None,
    confidence: float,
    n_cells: int,
) -> Float[Array, "batch k"]:
    """Each cell's log prior weights: ``log_softmax(log π + κ·onehot(label_c))`` (MATH.md,
    "Annotation prior"); an unlabelled cell (label −1) keeps ``log π``.

    Parameters
    ----------
    log_weights
        ``log π``.
    labels
        The batch's component labels (−1: unlabelled), or None (every cell ``log π``).
    confidence
        κ.
    n_cells
        Cells in the batch (used when ``labels`` is None).
    """
    if labels is None:
        return jnp.broadcast_to(log_weights, (n_cells, log_weights.shape[0]))
    nudge = confidence * jax.nn.one_hot(labels, log_weights.shape[0], dtype=log_weights.dtype)
    return jax.nn.log_softmax(log_weights[None, :] + nudge, axis=-1)


def to_component_layout(
    values: Mapping[str, Array], components: Collection[str], n_components: int
) -> dict[str, Float[Array, "k_or_1 genes_or_1"]]:
    """Every value as a 2-D ``(K or 1, genes or 1)`` array: component-specific ones
    (``(K,)`` or ``(K, genes)``) with their component axis first, the others (``()`` or
    ``(genes,)``) with an axis of one in front. Parameterization maps are elementwise on
    one rank, so they then broadcast across components."""
    out = {}
    for name, value in values.items():
        value = jnp.asarray(value)
        if name in components:
            out[name] = value.reshape(n_components, -1)
        else:
            out[name] = value.reshape(1, -1)
    return out


def from_component_layout(value: Float[Array, "a b"]) -> Array:
    """A 2-D layout value as the user sees it: ``()``, ``(genes,)``, ``(K,)`` or
    ``(K, genes)`` (an axis of one is dropped)."""
    rows, cols = value.shape
    if rows == 1 and cols == 1:
        return value.reshape(())
    if rows == 1:
        return value[0]
    if cols == 1:
        return value[:, 0]
    return value
