"""``scribe.fit``: the user's words -> configs -> modules -> a trained ``ScribeResults``."""

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist

from ._config import InferenceConfig, ModelConfig
from ._initial import moment_estimates
from ._training import train
from .data import CountData, load_counts
from .encoders import CaptureEncoder, FreeEncoder
from .guides import ParamSpec, make_guide
from .likelihoods._models import model_spec
from .model import ScribeModel
from .parameterizations import get_parameterization, unconstrained_transform
from .results import ScribeResults


def _resolve_model(model: str, zero_inflation: bool | None, variable_capture: bool | None):
    """Apply ``zero_inflation`` / ``variable_capture`` to a model name."""
    if not isinstance(model, str):
        raise TypeError(f"model must be a str, found {type(model).__name__}")
    for name, flag in (("zero_inflation", zero_inflation), ("variable_capture", variable_capture)):
        if flag is not None and not isinstance(flag, bool):
            raise TypeError(f"{name} must be True, False or None, found {flag!r}")
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
    parameterization: str = "canonical",
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
    model_config: ModelConfig | None = None,
    inference_config: InferenceConfig | None = None,
) -> ScribeResults:
    """Fit a scribe model to raw counts by stochastic variational inference.

    Parameters
    ----------
    data
        AnnData (counts in ``X`` or ``layer``), numpy array or scipy sparse matrix,
        cells × genes raw integer counts.
    model
        nbdm, zinb, nbvcp (default) or zinbvcp.
    zero_inflation, variable_capture
        Add (True) or remove (False) zero inflation / per-cell capture from ``model``.
    parameterization
        canonical (standard), mean_prob (linked) or mean_odds (odds_ratio).
    unconstrained
        Normal priors on unconstrained coordinates instead of Beta/LogNormal/BetaPrime.
    priors
        numpyro distributions replacing default priors, by coordinate name.
    guide_rank, joint_params
        Low-rank guide of that rank per parameter; jointly over ``joint_params``.
    amortize_capture
        Capture posteriors from an MLP on total UMI (applies to new cells).
    inference_method
        "svi" ("mcmc" and "vae" are not available yet).
    n_steps, batch_size, learning_rate, seed
        Optimisation: total steps, cells per minibatch (None: all), Adam's step, seed.
    layer
        AnnData layer holding the counts.
    checkpoint_dir, checkpoint_every, resume
        Orbax checkpoints every ``checkpoint_every`` steps; with ``resume`` an existing
        checkpoint is continued from its latest step.
    progress
        Show a progress bar with the smoothed loss.
    early_stopping_patience
        Stop when the smoothed loss has not improved for this many steps.
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
        model_config = ModelConfig(
            model=_resolve_model(model, zero_inflation, variable_capture),
            parameterization=parameterization,
            unconstrained=unconstrained,
            priors=_describe_priors(priors),
            guide_rank=guide_rank,
            joint_params=None if joint_params is None else tuple(joint_params),
            amortize_capture=amortize_capture,
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
    scribe_model = ScribeModel(
        model_config.model,
        get_parameterization(model_config.parameterization),
        n_cells=counts.n_cells,
        n_genes=counts.n_genes,
        unconstrained=model_config.unconstrained,
        priors=priors,
    )
    guide, encoder = _make_guide_and_encoder(scribe_model, model_config, counts, seed)
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


def _make_guide_and_encoder(model: ScribeModel, config: ModelConfig, counts: CountData, seed):
    start = moment_estimates(counts, variable_capture=bool(model.local_names))
    specs = [ParamSpec(name=n, shape=s) for n, s in model.global_shapes.items()]
    joint = config.joint_params
    if joint is not None:
        unknown = sorted(set(joint) - set(model.global_shapes))
        if unknown:
            raise ValueError(
                f"joint_params names {unknown}, which the model does not sample; valid names: "
                f"{sorted(model.global_shapes)}"
            )
    guide = make_guide(
        specs,
        unconstrained=config.unconstrained,
        rank=config.guide_rank,
        joint=joint,
        init={n: start[n] for n in model.global_shapes},
    )
    encoder = None
    if model.local_names:
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
