"""Normalizing-flow latent priors, built by flowjax on a standard Normal base."""

from typing import Literal

import equinox as eqx
import jax
from flowjax.bijections import AbstractBijection, RationalQuadraticSpline
from flowjax.distributions import StandardNormal, Transformed
from flowjax.flows import coupling_flow, masked_autoregressive_flow
from jaxtyping import Array, Float, PRNGKeyArray

from ._abstract import AbstractLatentPrior
from ._checks import check_int, check_positive_float

FLOW_KINDS = ("maf", "spline")
TRANSFORMERS = ("affine", "spline")
_DEFAULT_TRANSFORMER = {"maf": "affine", "spline": "spline"}


class FlowPrior(AbstractLatentPrior):
    """A normalizing flow ``p(z)``: a flowjax flow that maps a standard Normal to ``z``.

    Its parameters are ordinary inexact-array leaves, trained with the rest of a model
    through ``eqx.filter(prior, eqx.is_inexact_array)`` and optax. Its KL to a Gaussian
    posterior is a Monte Carlo estimate (``monte_carlo_kl_divergence``).

    Under ``jax.jit`` or in a ``jax.lax.scan`` carry, pass the prior's arrays only
    (``eqx.partition(prior, eqx.is_array)``), or use ``eqx.filter_jit``: the flow
    holds functions (activations, transformer constructors) as leaves.

    Parameters
    ----------
    latent_dim
        The dimension of each cell's latent vector, at least 2 (coupling layers
        split the vector in two; a one-dimensional autoregressive layer has no inputs
        to condition on).
    kind
        ``"maf"``: a masked autoregressive flow
        (``flowjax.flows.masked_autoregressive_flow``); ``"spline"``: a coupling flow
        (``flowjax.flows.coupling_flow``).
    transformer
        The elementwise bijection each layer's network parameterizes: ``"affine"`` or
        ``"spline"`` (a rational-quadratic spline). ``None`` picks ``"affine"`` for
        ``"maf"`` and ``"spline"`` for ``"spline"``.
    n_layers
        The number of flow layers.
    width
        The width of each layer's hidden layers.
    depth
        The number of hidden layers in each layer's network.
    knots
        The number of inner knots of each spline.
    interval
        Splines act on ``[-interval, interval]`` and are the identity outside it.
    init_scale
        The final layer of every network is scaled by this at initialisation, so the
        flow starts close to the identity and the prior close to ``N(0, I)``
        (``0.0`` starts exactly at the identity).
    key
        A PRNG key for the networks' initial weights.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from scribe.latent_priors import FlowPrior
    >>> prior = FlowPrior(2, kind="spline", n_layers=2, width=16, key=jax.random.key(0))
    >>> prior.log_prob(jnp.zeros((5, 2))).shape
    (5,)
    >>> prior.sample(jax.random.key(1), (3,)).shape
    (3, 2)
    """

    latent_dim: int = eqx.field(static=True)
    kind: str = eqx.field(static=True)
    transformer: str = eqx.field(static=True)
    flow: Transformed

    def __init__(
        self,
        latent_dim: int,
        *,
        kind: Literal["maf", "spline"] = "maf",
        transformer: Literal["affine", "spline"] | None = None,
        n_layers: int = 4,
        width: int = 32,
        depth: int = 1,
        knots: int = 8,
        interval: float = 4.0,
        init_scale: float = 1e-2,
        key: PRNGKeyArray,
    ):
        if not isinstance(latent_dim, bool) and latent_dim == 1:
            raise ValueError(
                "latent_dim must be >= 2 for a flow prior (coupling layers split the latent "
                "vector in two; use the 'normal' prior in one dimension); found 1"
            )
        self.latent_dim = check_int("latent_dim", latent_dim, minimum=2)
        if kind not in FLOW_KINDS:
            raise ValueError(f"kind must be one of {FLOW_KINDS}; found {kind!r}")
        transformer = _DEFAULT_TRANSFORMER[kind] if transformer is None else transformer
        if transformer not in TRANSFORMERS:
            raise ValueError(f"transformer must be one of {TRANSFORMERS}; found {transformer!r}")
        self.kind, self.transformer = kind, transformer
        options = dict(
            base_dist=StandardNormal((self.latent_dim,)),
            transformer=_transformer(
                transformer,
                knots=check_int("knots", knots, minimum=1),
                interval=check_positive_float("interval", interval),
            ),
            flow_layers=check_int("n_layers", n_layers, minimum=1),
            nn_width=check_int("width", width, minimum=1),
            nn_depth=check_int("depth", depth, minimum=0),
        )
        init_scale = check_positive_float("init_scale", init_scale, allow_zero=True)
        build = masked_autoregressive_flow if kind == "maf" else coupling_flow
        with _flowjax_broadcasting():
            self.flow = _scale_final_layers(build(key, **options), init_scale)

    def log_prob(self, z: Float[Array, "*shape latent"]) -> Float[Array, "*shape"]:
        """The flow's log-density of each latent vector."""
        self._check_latent(z)
        with _flowjax_broadcasting():
            return self.flow.log_prob(z)

    def sample(
        self, key: PRNGKeyArray, sample_shape: tuple[int, ...] = ()
    ) -> Float[Array, "*sample_shape latent"]:
        """Independent draws from the flow, of shape ``(*sample_shape, latent_dim)``."""
        with _flowjax_broadcasting():
            return self.flow.sample(key, tuple(sample_shape))

    def kl_divergence(
        self,
        loc: Float[Array, "batch latent"],
        scale: Float[Array, "batch latent"],
        *,
        key: PRNGKeyArray,
        n_samples: int = 1,
    ) -> Float[Array, " batch"]:
        """The Monte Carlo KL of ``monte_carlo_kl_divergence`` (no closed form exists)."""
        return self.monte_carlo_kl_divergence(loc, scale, key=key, n_samples=n_samples)


def _flowjax_broadcasting():
    """flowjax relies on rank promotion (e.g. its autoregressive masks); allow it inside."""
    return jax.numpy_rank_promotion("allow")


def _transformer(name: str, *, knots: int, interval: float) -> AbstractBijection | None:
    """The scalar bijection a layer's network parameterizes (``None``: flowjax's affine)."""
    if name == "affine":
        # flowjax's default: an affine map whose scale is softplus-constrained above 0.01
        return None
    return RationalQuadraticSpline(knots=knots, interval=interval)


def _scale_final_layers(flow: Transformed, init_scale: float) -> Transformed:
    """Scale the last linear layer of every conditioner network by ``init_scale``.

    flowjax's conditioners output offsets from the transformer's initial (identity)
    parameters, so small final layers make every layer close to the identity.
    """

    def is_mlp(node) -> bool:
        return isinstance(node, eqx.nn.MLP)

    def final_layers(tree):
        return [m.layers[-1] for m in jax.tree.leaves(tree, is_leaf=is_mlp) if is_mlp(m)]

    def scale(layer):
        return jax.tree.map(lambda a: a * init_scale if eqx.is_inexact_array(a) else a, layer)

    if not final_layers(flow):
        raise RuntimeError("flowjax's flow holds no eqx.nn.MLP conditioner to initialise")
    return eqx.tree_at(final_layers, flow, replace_fn=scale)
