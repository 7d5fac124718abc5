"""``scribe.fit``: the user's words -> configs -> modules -> a trained ``ScribeResults``."""

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist

from ._config import TWO_STATE_MODELS, InferenceConfig, ModelConfig
from ._initial import moment_estimates
from ._initial import reference_gene as choose_reference_gene
from ._sampling import check_svi_init, sample
from ._training import train
from .data import CountData, load_counts
from .decoders import AbstractDecoder, LinearALRDecoder, MLPDecoder
from .encoders import AbstractEncoder, CaptureEncoder, FreeEncoder, MLPEncoder
from .guides import ParamSpec, make_guide
from .latent_priors import make_latent_prior
from .likelihoods._models import model_spec
from .model import ScribeModel
from .parameterizations import get_capture, get_parameterization, unconstrained_transform
from .results import ScribeResults


def _resolve_model(model: str, zero_inflation: bool | None, variable_capture: bool | None):
    """Apply ``zero_inflation`` / ``variable_capture`` to a model name."""
    if not isinstance(model, str):
        raise TypeError(f"model must be a str, found {type(model).__name__}")
    for name, flag in (("zero_inflation", zero_inflation), ("variable_capture", variable_capture)):
        if flag is not None and not isinstance(flag, bool):
            raise TypeError(f"{name} must be True, False or None, found {flag!r}")
    if model in TWO_STATE_MODELS:
        if zero_inflation:
            raise ValueError(f"model {model!r} has no zero-inflated form; zero_inflation=True")
        vcp = model == "twostatevcp" if variable_capture is None else variable_capture
        return "twostatevcp" if vcp else "twostate"
    if model not in ("nbdm", "zinb", "nbvcp", "zinbvcp"):
        return model
    spec = model_spec(model)
    zi = spec.zero_inflated if zero_inflation is None else zero_inflation
    vcp = spec.variable_capture if variable_capture is None else variable_capture
    return {(False, False): "nbdm", (True, False): "zinb", (False, True): "nbvcp"}.get(
        (zi, vcp), "zinbvcp"
    )


def _describe_priors(priors: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    if priors is None:
        return ()
    if not isinstance(priors, Mapping):
        raise TypeError(f"priors must be a mapping of names to distributions, found {priors!r}")
    for name, prior in priors.items():
        if not isinstance(prior, dist.Distribution):
            raise TypeError(
                f"priors[{name!r}] must be a numpyro Distribution, found {type(prior).__name__}"
            )
    return tuple((name, _describe(prior)) for name, prior in sorted(priors.items()))


def _describe(prior: dist.Distribution) -> str:
    """``Beta(concentration1=1.0, ...)``: a JSON-friendly description for checkpoints."""
    args = ", ".join(
        f"{k}={np.asarray(getattr(prior, k)).tolist()}" for k in prior.arg_constraints
    )
    return f"{type(prior).__name__}({args})"


def fit(
    data: Any,
    *,
    model: str = "nbvcp",
    zero_inflation: bool | None = None,
    variable_capture: bool | None = None,
    parameterization: str | None = None,
    unconstrained: bool = False,
    priors: Mapping[str, dist.Distribution] | None = None,
    guide_rank: int | None = None,
    joint_params: list[str] | tuple[str, ...] | None = None,
    amortize_capture: bool = False,
    inference_method: str = "svi",
    n_steps: int = 25_000,
    batch_size: int | None = None,
    learning_rate: float = 0.01,
    seed: int = 42,
    layer: str | None = None,
    checkpoint_dir: str | Path | None = None,
    checkpoint_every: int = 1_000,
    resume: bool = True,
    progress: bool = True,
    early_stopping_patience: int | None = None,
    n_samples: int = 2000,
    n_warmup: int = 1000,
    n_chains: int = 1,
    svi_init: ScribeResults | None = None,
    target_accept_prob: float = 0.8,
    max_tree_depth: int = 10,
    dense_mass: bool = False,
    latent_dim: int | None = None,
    encoder: AbstractEncoder | None = None,
    decoder: AbstractDecoder | None = None,
    prior: str = "normal",
    library_size: bool = False,
    model_config: ModelConfig | None = None,
    inference_config: InferenceConfig | None = None,
) -> ScribeResults:
    """Fit a scribe model to raw counts: SVI (default), a VAE, or MCMC (NUTS).

    Parameters
    ----------
    data
        AnnData (counts in ``X`` or ``layer``), numpy array or scipy sparse matrix,
        cells × genes raw integer counts.
    model
        nbdm, zinb, nbvcp (default) or zinbvcp; with MCMC also the two-state promoter
        twostate and twostatevcp.
    zero_inflation, variable_capture
        Add (True) or remove (False) zero inflation / per-cell capture from ``model``.
    parameterization
        canonical (standard; the default), mean_prob (linked) or mean_odds
        (odds_ratio); for the two-state models two_state_natural (the default),
        two_state_ratio, two_state_mean_fano or two_state_moment_delta.
    unconstrained
        Normal priors on unconstrained coordinates instead of Beta/LogNormal/BetaPrime.
    priors
        numpyro distributions replacing default priors, by coordinate name.
    guide_rank, joint_params
        Low-rank guide of that rank per parameter; jointly over ``joint_params``.
    amortize_capture
        Capture posteriors from an MLP on total UMI (applies to new cells).
    inference_method
        "svi"; "vae" (a latent ``z`` per cell, encoded from its counts and decoded
        into every gene's NB mean); or "mcmc": NUTS (numpyro) in float64 on the same
        log-joint, the globals and each cell's latents moved together (``docs/mcmc.md``).
    n_steps, batch_size, learning_rate, seed
        Optimisation: total steps, cells per minibatch (None: all), Adam's step, seed.
    layer
        AnnData layer holding the counts.
    checkpoint_dir, checkpoint_every, resume
        Orbax checkpoints every ``checkpoint_every`` steps (MCMC: iterations, and at
        the end of the warmup); with ``resume`` an existing checkpoint is continued from
        its latest step.
    progress
        Show a progress bar with the smoothed loss.
    early_stopping_patience
        Stop when the smoothed loss has not improved for this many steps.
    n_samples, n_warmup, n_chains
        MCMC: draws kept per chain, warmup (adaptation) iterations per chain, chains.
    svi_init
        MCMC: results of an SVI fit of the same model and genes (and cells, with
        capture); the first chain starts at its MAP (converted to this
        ``parameterization``), the others at dispersed points around it.
    target_accept_prob, max_tree_depth, dense_mass
        MCMC: NUTS's step-size target, tree-depth limit and a dense mass matrix.
    latent_dim, encoder, decoder, prior, library_size
        VAE only: the dimension of ``z`` (10); any ``scribe.encoders.AbstractEncoder``
        with a ``"z"`` latent (and the model's capture latent) and any
        ``scribe.decoders.AbstractDecoder`` (default: ``MLPEncoder`` / ``MLPDecoder``);
        the prior of ``z``, "normal", "maf" or "spline" (a flowjax flow); and whether
        the decoder outputs a composition scaled by each cell's observed total (scVI's
        library-size conditioning, for models without capture).
    model_config, inference_config
        Full configs; when given they replace the corresponding keyword arguments.

    Returns
    -------
    ScribeResults

    Examples
    --------
    >>> import scribe
    >>> adata = scribe.datasets.pbmc68k_reduced()
    >>> results = scribe.fit(adata, model="nbdm", n_steps=200, progress=False)
    >>> results.loss_history.shape
    (200,)
    """
    if model_config is None:
        if parameterization is None:
            parameterization = "two_state_natural" if model in TWO_STATE_MODELS else "canonical"
        if inference_method == "vae" and latent_dim is None:
            latent_dim = 10 if encoder is None else _latent_size(encoder)
        model_config = ModelConfig(
            model=_resolve_model(model, zero_inflation, variable_capture),
            parameterization=parameterization,
            unconstrained=unconstrained,
            priors=_describe_priors(priors),
            guide_rank=guide_rank,
            joint_params=None if joint_params is None else tuple(joint_params),
            amortize_capture=amortize_capture,
            latent_dim=latent_dim,
            latent_prior=prior,
            library_size=library_size,
            encoder=None if encoder is None else type(encoder).__name__,
            decoder=None if decoder is None else type(decoder).__name__,
        )
    if inference_config is None:
        inference_config = InferenceConfig(
            method=inference_method,
            n_steps=n_steps,
            batch_size=batch_size,
            learning_rate=learning_rate,
            seed=seed,
            steps_per_dispatch=math.gcd(checkpoint_every, 100) if _is_int(checkpoint_every) else 1,
            checkpoint_every=checkpoint_every,
            early_stopping_patience=early_stopping_patience,
            n_samples=n_samples,
            n_warmup=n_warmup,
            n_chains=n_chains,
            target_accept_prob=target_accept_prob,
            max_tree_depth=max_tree_depth,
            dense_mass=dense_mass,
        )
    if (inference_config.method == "vae") != (model_config.latent_dim is not None):
        raise ValueError(
            "latent_dim, encoder, decoder, prior and library_size go with "
            "inference_method='vae' (and a VAE needs latent_dim)"
        )
    mcmc = inference_config.method == "mcmc"
    if model_config.model in TWO_STATE_MODELS and not mcmc:
        raise ValueError(
            f"model {model_config.model!r} is fitted by MCMC only: pass inference_method='mcmc'"
        )
    if svi_init is not None and not mcmc:
        raise ValueError("svi_init starts MCMC chains: it needs inference_method='mcmc'")
    if mcmc and (model_config.guide_rank is not None or model_config.amortize_capture):
        raise ValueError(
            "guide_rank, joint_params and amortize_capture choose an SVI guide; MCMC "
            "samples the posterior itself (found guide_rank="
            f"{model_config.guide_rank}, amortize_capture={model_config.amortize_capture})"
        )
    for name, flag in (("resume", resume), ("progress", progress)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False, found {flag!r}")
    if checkpoint_dir is not None and Path(checkpoint_dir).is_file():
        raise ValueError(
            f"checkpoint_dir must be a directory, found a file: {str(checkpoint_dir)!r}"
        )
    counts = load_counts(data, layer=layer, argument="data")
    if inference_config.batch_size is not None and inference_config.batch_size > counts.n_cells:
        raise ValueError(
            f"batch_size must be <= the number of cells ({counts.n_cells}), "
            f"found {inference_config.batch_size}"
        )
    if mcmc:
        if svi_init is not None:
            check_svi_init(svi_init, model_config, counts)
        return sample(
            lambda: _make_model(model_config, counts, priors),
            counts,
            model_config=model_config,
            inference_config=inference_config,
            svi_init=svi_init,
            checkpoint_dir=checkpoint_dir,
            resume=resume,
            progress=progress,
        )
    networks = {}
    if model_config.latent_dim is not None:
        encoder, networks = _make_vae_modules(model_config, counts, seed, encoder, decoder)
    scribe_model = _make_model(model_config, counts, priors, **networks)
    guide, default_encoder = _make_guide_and_encoder(scribe_model, model_config, counts, seed)
    encoder = default_encoder if encoder is None else _checked_encoder(encoder, scribe_model)
    return train(
        scribe_model,
        guide,
        encoder,
        counts,
        model_config=model_config,
        inference_config=inference_config,
        checkpoint_dir=checkpoint_dir,
        resume=resume,
        progress=progress,
    )


def _make_model(config: ModelConfig, counts: CountData, priors, **networks) -> ScribeModel:
    return ScribeModel(
        config.model,
        get_parameterization(config.parameterization),
        n_cells=counts.n_cells,
        n_genes=counts.n_genes,
        unconstrained=config.unconstrained,
        priors=priors,
        **networks,
    )


def _latent_size(encoder: Any) -> int:
    if not isinstance(encoder, AbstractEncoder):
        raise TypeError(
            f"encoder must implement scribe.encoders.AbstractEncoder, found "
            f"{type(encoder).__name__}"
        )
    size = getattr(encoder, "n_latent", None)
    if not isinstance(size, int):
        raise TypeError(
            f"encoder {type(encoder).__name__} must say the size of its latent in an int "
            f"attribute n_latent, found {size!r}"
        )
    return size


def _make_vae_modules(
    config: ModelConfig,
    counts: CountData,
    seed: int,
    encoder,
    decoder,
    *,
    reference_gene: int | None = None,
):
    """The VAE's encoder (the user's or an MLPEncoder), decoder (the user's, an
    MLPDecoder, or for lnm a LinearALRDecoder against ``reference_gene``, by default
    the data's) and latent prior, from fresh keys of ``seed``."""
    key_encoder, key_decoder, key_prior = jax.random.split(jax.random.key(seed + 2), 3)
    spec = model_spec(config.model)
    if encoder is None:
        capture = get_capture(get_parameterization(config.parameterization))
        encoder = MLPEncoder.from_data(
            counts,
            config.latent_dim,
            key=key_encoder,
            include_library=True,
            capture_names=capture.sampled if spec.variable_capture else (),
        )
    if decoder is None and spec.family == "lnm":
        if reference_gene is None:
            reference_gene = choose_reference_gene(counts)
        decoder = LinearALRDecoder(
            config.latent_dim, counts.n_genes, reference_gene, key=key_decoder
        )
    elif decoder is None:
        decoder = MLPDecoder(
            config.latent_dim,
            counts.n_genes,
            key=key_decoder,
            outputs=("mu", "gate") if spec.zero_inflated else ("mu",),
            library_size=config.library_size,
        )
    prior = make_latent_prior(config.latent_prior, config.latent_dim, key=key_prior)
    return encoder, {"decoder": decoder, "latent_prior": prior}


def _checked_encoder(encoder: Any, model: ScribeModel) -> AbstractEncoder:
    if not isinstance(encoder, AbstractEncoder):
        raise TypeError(
            f"encoder must implement scribe.encoders.AbstractEncoder, found "
            f"{type(encoder).__name__}"
        )
    if tuple(sorted(encoder.names)) != tuple(sorted(model.local_names)):
        raise ValueError(
            f"encoder {type(encoder).__name__} outputs latents {encoder.names}; model "
            f"{model.model!r} needs {model.local_names}"
        )
    return encoder


def _make_guide_and_encoder(model: ScribeModel, config: ModelConfig, counts: CountData, seed):
    start = moment_estimates(
        counts, variable_capture=bool(model.local_priors), of_totals=model.models_totals
    )
    specs = [ParamSpec(name=n, shape=s) for n, s in model.global_shapes.items()]
    joint = config.joint_params
    if joint is not None:
        unknown = sorted(set(joint) - set(model.global_shapes))
        if unknown:
            raise ValueError(
                f"joint_params names {unknown}, which the model does not sample; valid names: "
                f"{sorted(model.global_shapes)}"
            )
    rank = config.guide_rank
    if model.models_totals and rank is None:
        # The NB total's r and p trade along a ridge (their product of odds is the mean):
        # a mean-field Beta × LogNormal guide drifts along it, away from the optimum
        # (r 6.9 instead of 18.8 on 600 simulated totals), a joint Gaussian does not.
        rank, joint = 1, tuple(model.global_shapes)
    guide = make_guide(
        specs,
        unconstrained=config.unconstrained,
        rank=rank,
        joint=joint,
        init={n: np.reshape(start[n], shape) for n, shape in model.global_shapes.items()},
    )
    encoder = None
    if model.decoder is None and model.local_names:
        names = model.local_names
        if config.amortize_capture:
            centre = float(np.mean(np.log1p(counts.total_counts)))
            encoder = CaptureEncoder(names, key=jax.random.key(seed + 1), centre=centre)
        else:
            init = {n: unconstrained_transform(n).inv(jnp.asarray(start[n])) for n in names}
            encoder = FreeEncoder(names, counts.n_cells, init=init)
    return guide, encoder


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
