"""Latent priors by name: the one place a prior's string maps to its class."""

from jaxtyping import PRNGKeyArray

from ._abstract import AbstractLatentPrior
from ._flow import FlowPrior
from ._normal import StandardNormalPrior

LATENT_PRIORS = ("normal", "maf", "spline")


def make_latent_prior(
    name: str, latent_dim: int, *, key: PRNGKeyArray, **options
) -> AbstractLatentPrior:
    """Build the latent prior a configuration names.

    Parameters
    ----------
    name
        ``"normal"`` (``StandardNormalPrior``), ``"maf"`` or ``"spline"``
        (``FlowPrior`` of that kind).
    latent_dim
        The dimension of each cell's latent vector.
    key
        A PRNG key for a flow's initial weights.
    **options
        Keyword arguments of ``FlowPrior`` (``n_layers``, ``width``, ...); the Normal
        prior takes none.

    Returns
    -------
    The prior.

    Examples
    --------
    >>> import jax
    >>> from scribe.latent_priors import make_latent_prior
    >>> make_latent_prior("maf", 5, key=jax.random.key(0), n_layers=2, width=16).latent_dim
    5
    """
    if name not in LATENT_PRIORS:
        raise ValueError(f"latent prior must be one of {LATENT_PRIORS}; found {name!r}")
    if name == "normal":
        if options:
            found = sorted(options)
            raise ValueError(f"the 'normal' latent prior takes no options; found {found}")
        return StandardNormalPrior(latent_dim)
    return FlowPrior(latent_dim, kind=name, key=key, **options)
