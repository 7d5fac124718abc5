"""The settings of one inference method each: ``SviConfig``, ``VaeConfig``, ``McmcConfig``.

``scribe.fit`` takes the options most fits set as flat keywords (``n_steps``,
``learning_rate``, ``guide_rank``, ``n_samples``, ...); these configs hold the rest, one
per method, so that a setting lives in exactly one place.
"""

import dataclasses

from ..latent_priors import LATENT_PRIORS
from ._checks import check_bool, check_choice, check_int, check_optional_int

CHAIN_METHODS = ("sequential", "vectorized")


@dataclasses.dataclass(frozen=True, kw_only=True)
class SviConfig:
    """Settings of stochastic variational inference (also the VAE's training loop).

    Parameters
    ----------
    joint_params
        Names of at least two global parameters to correlate in one low-rank Gaussian
        (``JointLowRank``, of rank ``guide_rank``, which it needs).
    amortize_capture
        Capture posteriors from an MLP on each cell's total UMI (``CaptureEncoder``),
        which applies to new cells, instead of a per-cell table. Not for a VAE, whose
        encoder outputs the capture.
    early_stopping_patience
        Stop when the smoothed loss has not improved (by ``early_stopping_min_delta``,
        relative) for this many steps. None: run all ``n_steps``.
    early_stopping_min_delta
        The relative improvement that counts for early stopping.
    steps_per_dispatch
        Steps run in one compiled ``lax.scan`` between two returns to Python (progress,
        early stopping, checkpoints). None: the largest divisor of ``checkpoint_every``
        up to 100.

    Examples
    --------
    >>> import scribe
    >>> adata = scribe.datasets.pbmc68k_reduced()
    >>> results = scribe.fit(adata, model="nbdm", n_steps=200, progress=False,
    ...                      svi=scribe.SviConfig(early_stopping_patience=100))
    >>> results.config.svi.early_stopping_patience
    100
    """

    joint_params: tuple[str, ...] | None = None
    amortize_capture: bool = False
    early_stopping_patience: int | None = None
    early_stopping_min_delta: float = 1e-4
    steps_per_dispatch: int | None = None

    def __post_init__(self):
        if self.joint_params is not None:
            if isinstance(self.joint_params, str) or not all(
                isinstance(n, str) for n in self.joint_params
            ):
                raise TypeError(
                    f"joint_params must be a sequence of parameter names, found "
                    f"{self.joint_params!r}"
                )
            object.__setattr__(self, "joint_params", tuple(self.joint_params))
            if len(self.joint_params) < 2:
                raise ValueError(
                    f"joint_params must name at least 2 parameters, found {self.joint_params}"
                )
        check_bool("amortize_capture", self.amortize_capture)
        check_optional_int("early_stopping_patience", self.early_stopping_patience)
        delta = self.early_stopping_min_delta
        if isinstance(delta, bool) or not isinstance(delta, int | float) or not delta >= 0:
            raise ValueError(f"early_stopping_min_delta must be a float >= 0, found {delta!r}")
        check_optional_int("steps_per_dispatch", self.steps_per_dispatch)


@dataclasses.dataclass(frozen=True, kw_only=True)
class VaeConfig:
    """Settings of the VAE (``inference_method="vae"``) beyond ``latent_dim``.

    Parameters
    ----------
    prior
        The prior of each cell's latent ``z``: ``"normal"`` (standard Normal, closed-form
        KL), ``"maf"`` or ``"spline"`` (a flowjax normalizing flow, Monte Carlo KL).
    library_size
        The decoder outputs a composition scaled by each cell's observed total (scVI's
        library-size conditioning), for models without capture.
    kl_warmup_steps
        Anneal the KL term's weight linearly from 0 to 1 over this many steps (None:
        weight 1 from the start).

    Examples
    --------
    >>> import scribe
    >>> scribe.VaeConfig(prior="maf", library_size=True)
    VaeConfig(prior='maf', library_size=True, kl_warmup_steps=None)
    """

    prior: str = "normal"
    library_size: bool = False
    kl_warmup_steps: int | None = None

    def __post_init__(self):
        check_choice("prior", self.prior, LATENT_PRIORS)
        check_bool("library_size", self.library_size)
        check_optional_int("kl_warmup_steps", self.kl_warmup_steps, low=0)


@dataclasses.dataclass(frozen=True, kw_only=True)
class McmcConfig:
    """Settings of NUTS (``inference_method="mcmc"``) beyond ``n_samples``, ``n_warmup``
    and ``n_chains``.

    Parameters
    ----------
    target_accept_prob
        The step-size adaptation's target acceptance probability, in (0, 1); raise it
        (e.g. 0.95) when there are divergences.
    max_tree_depth
        NUTS's tree-depth limit (at most ``2**max_tree_depth`` leapfrog steps), 1 to 20.
    dense_mass
        Adapt a dense mass matrix instead of a diagonal one.
    thinning
        Keep every ``thinning``-th post-warmup draw (numpyro's ``thinning``): a chain
        keeps ``n_samples // thinning`` draws. ``n_samples`` must be a multiple of it.
    keep_cell_draws
        Keep every draw of each cell's latents (the capture), ``chains × draws × cells``
        floats. False keeps, per chain, their running mean and standard deviation and the
        values at the draw of highest log-joint (``get_map``) only: a memory of
        ``chains × cells`` whatever the number of draws, at the cost of what needs
        per-draw capture (posterior predictive, per-draw log-likelihood, sampled
        denoising of capture models), which then raises.
    chain_method
        ``"sequential"`` (chains one after the other: on a CPU the cheapest, each chain
        costs its own trajectories) or ``"vectorized"`` (all chains in one vmapped
        kernel: for accelerators, where the chains run in parallel; each iteration costs
        the longest chain's trajectory). The two differ only in floating-point rounding.

    Examples
    --------
    >>> import scribe
    >>> scribe.McmcConfig(thinning=5, keep_cell_draws=False).chain_method
    'sequential'
    """

    target_accept_prob: float = 0.8
    max_tree_depth: int = 10
    dense_mass: bool = False
    thinning: int = 1
    keep_cell_draws: bool = True
    chain_method: str = "sequential"

    def __post_init__(self):
        accept = self.target_accept_prob
        if isinstance(accept, bool) or not isinstance(accept, int | float):
            raise TypeError(f"target_accept_prob must be a float, found {accept!r}")
        if not 0 < accept < 1:
            raise ValueError(f"target_accept_prob must lie in (0, 1), found {accept}")
        check_int("max_tree_depth", self.max_tree_depth)
        if self.max_tree_depth > 20:
            raise ValueError(f"max_tree_depth must be <= 20, found {self.max_tree_depth}")
        check_bool("dense_mass", self.dense_mass)
        check_int("thinning", self.thinning)
        check_bool("keep_cell_draws", self.keep_cell_draws)
        check_choice("chain_method", self.chain_method, CHAIN_METHODS)
