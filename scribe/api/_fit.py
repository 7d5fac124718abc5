"""``scribe.fit``: the user's words -> a config -> modules -> a trained ``ScribeResults``."""

import dataclasses
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpyro.distributions as dist

from .._warnings import McmcWarning, TrainingWarning
from ..build import build_modules, make_model
from ..config import (
    FitConfig,
    McmcConfig,
    SviConfig,
    VaeConfig,
    check_priors,
    describe_priors,
)
from ..config._model import DEFAULT_ANNOTATION_CONFIDENCE, DEFAULT_CAPTURE_SIGMA
from ..data import CountData, annotation_labels, dataset_labels, load_counts
from ..decoders import AbstractDecoder
from ..encoders import AbstractEncoder
from ..inference import McmcDraws, SviRun, relabel_components, sample, train
from ..model import ScribeModel
from ..parameterizations import get_parameterization, informed_capture_prior
from ..results import ScribeResults, warn_on_diagnostics
from ._words import fit_config, hierarchy_pairs, refuse_unknown


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
    n_components: int | None = None,
    mixture_params: str | tuple[str, ...] | None = None,
    annotation_key: str | None = None,
    annotation_confidence: float = DEFAULT_ANNOTATION_CONFIDENCE,
    annotation_component_order: tuple[str, ...] | None = None,
    capture_prior: str = "default",
    mrna_per_cell: float | str | None = None,
    capture_prior_sigma: float = DEFAULT_CAPTURE_SIGMA,
    hierarchical: tuple[str, ...] | Mapping[str, str] | None = None,
    horseshoe: tuple[str, ...] | None = None,
    dataset_key: str | None = None,
    dataset_params: str | tuple[str, ...] | None = None,
    inference_method: str = "svi",
    n_steps: int = 25_000,
    batch_size: int | None = None,
    learning_rate: float = 0.01,
    seed: int = 42,
    n_samples: int = 2000,
    n_warmup: int = 1000,
    n_chains: int = 1,
    latent_dim: int | None = None,
    encoder: AbstractEncoder | None = None,
    decoder: AbstractDecoder | None = None,
    svi_init: ScribeResults | None = None,
    layer: str | None = None,
    checkpoint_dir: str | Path | None = None,
    checkpoint_every: int = 1_000,
    resume: bool = True,
    progress: bool = True,
    svi: SviConfig | None = None,
    vae: VaeConfig | None = None,
    mcmc: McmcConfig | None = None,
    **moved: Any,
) -> ScribeResults:
    """Fit a scribe model to raw counts: SVI (default), a VAE, or MCMC (NUTS).

    The options most fits set are keywords; each method's other settings are in its
    config (``svi=scribe.SviConfig(...)``, ``vae=scribe.VaeConfig(...)``,
    ``mcmc=scribe.McmcConfig(...)``). Everything is checked, and combined into one
    ``scribe.FitConfig`` (``results.config``), before the data is read.

    Parameters
    ----------
    data
        AnnData (counts in ``X`` or ``layer``), numpy array or scipy sparse matrix,
        cells × genes raw integer counts.
    model
        nbdm, zinb, nbvcp (default) or zinbvcp; with MCMC also the two-state promoter
        twostate and twostatevcp; as a VAE also lnm and lnmvcp.
    zero_inflation, variable_capture
        Add (True) or remove (False) zero inflation / per-cell capture from ``model``.
    parameterization
        canonical (standard; the default), mean_prob (linked) or mean_odds
        (odds_ratio); for the two-state models two_state_natural (the default),
        two_state_ratio, two_state_mean_fano or two_state_moment_delta.
    unconstrained
        Normal priors on unconstrained coordinates instead of Beta/LogNormal/BetaPrime.
    priors
        numpyro distributions replacing default priors, by coordinate name. A per-cell
        coordinate (the capture) takes a prior of batch shape ``()`` or ``(n_cells,)``.
    guide_rank
        SVI / VAE: a low-rank Gaussian guide of this rank per global parameter (jointly
        over ``svi.joint_params``); None: mean-field.
    n_components, mixture_params
        A mixture of K >= 2 components (SVI and MCMC; ``docs/mixtures.md``), each cell
        of one of them; ``mixture_params`` names the globals that differ between
        components ("all", the default: every one; e.g. ``("r",)`` or ``("mu",)``).
        The weights get a Dirichlet(1) prior; the capture stays per cell.
    annotation_key, annotation_confidence, annotation_component_order
        An ``adata.obs`` column of known labels (missing values: unlabelled cells) that
        nudges a labelled cell's mixture weights to ``softmax(log π + κ·onehot)``
        (κ = ``annotation_confidence``, default 3), and the label of each component in
        order (default: the sorted labels); components then carry the label names.
    capture_prior, mrna_per_cell, capture_prior_sigma
        ``"biology"``: ``-log ν_c ~ TruncatedNormal(log M0 - log L_c, σ, low=0)``, with
        ``M0 = mrna_per_cell`` molecules per cell (a number, or "human", "mouse",
        "yeast", "ecoli") and σ = ``capture_prior_sigma`` (0.3); ``"default"``: the
        plain capture prior (``docs/priors.md``).
    hierarchical, horseshoe
        Gene-specific ``p`` (``phi`` under mean_odds) or ``gate`` around a learned
        population value (``docs/priors.md``): ``hierarchical=("p", "gate")`` under a
        Normal hierarchy, ``horseshoe=("p",)`` under the regularized horseshoe (most genes
        at the shared value, a few apart), or ``hierarchical={"p": "neg"}`` naming each
        kind ("normal", "horseshoe", "neg"). Non-centred; ``priors=`` overrides the
        hyperpriors by coordinate name (``p_loc``, ``p_scale``, ``p_tau``, ...).
    dataset_key, dataset_params
        An ``adata.obs`` column naming each cell's dataset (batch, donor, sample): the
        globals named by ``dataset_params`` ("all", the default: every one) get one copy
        per dataset under a dataset-level hierarchical prior, everything else is shared
        (``docs/priors.md``). Not with ``n_components``.
    inference_method
        "svi"; "vae" (a latent ``z`` per cell, encoded from its counts and decoded
        into every gene's NB mean); or "mcmc": NUTS (numpyro) in float64 on the same
        log-joint, the globals and each cell's latents moved together (``docs/mcmc.md``).
    n_steps, batch_size, learning_rate
        SVI / VAE: total steps, cells per minibatch (None: all), Adam's step size.
    seed
        Seed of every random choice of the fit.
    n_samples, n_warmup, n_chains
        MCMC: post-warmup iterations per chain (``mcmc.thinning`` keeps every k-th),
        warmup (adaptation) iterations per chain, chains.
    latent_dim, encoder, decoder
        VAE only: the dimension of ``z`` (default 10, or the encoder's ``n_latent``);
        any ``scribe.encoders.AbstractEncoder`` with a ``"z"`` latent (and the model's
        capture latent) and any ``scribe.decoders.AbstractDecoder`` (default:
        ``MLPEncoder`` / ``MLPDecoder``).
    svi_init
        MCMC: results of an SVI fit of the same model and genes (and cells, with
        capture); the first chain starts at its MAP (converted to this
        ``parameterization``), the others at dispersed points around it.
    layer
        AnnData layer holding the counts.
    checkpoint_dir, checkpoint_every, resume
        Orbax checkpoints every ``checkpoint_every`` steps (MCMC: iterations, and at
        the end of the warmup); with ``resume`` an existing checkpoint is continued from
        its latest step.
    progress
        Show a progress bar with the smoothed loss.
    svi, vae, mcmc
        Each method's other settings: ``scribe.SviConfig`` (SVI and the VAE's training:
        ``joint_params``, ``amortize_capture``, early stopping, steps per dispatch),
        ``scribe.VaeConfig`` (``prior``, ``library_size``, ``kl_warmup_steps``),
        ``scribe.McmcConfig`` (``target_accept_prob``, ``max_tree_depth``,
        ``dense_mass``, ``thinning``, ``keep_cell_draws``, ``chain_method``).

    Returns
    -------
    ScribeResults

    Warns
    -----
    TrainingWarning
        SVI / VAE steps were skipped because their update was not finite.
    McmcWarning
        MCMC diagnostics past their thresholds (R-hat, ESS, divergences, tree depth).

    Examples
    --------
    >>> import scribe
    >>> adata = scribe.datasets.pbmc68k_reduced()
    >>> results = scribe.fit(adata, model="nbdm", n_steps=200, progress=False)
    >>> results.loss_history.shape
    (200,)
    """
    refuse_unknown(moved)
    priors = check_priors(priors)
    config = fit_config(
        model=model,
        zero_inflation=zero_inflation,
        variable_capture=variable_capture,
        parameterization=parameterization,
        unconstrained=unconstrained,
        priors=priors,
        inference_method=inference_method,
        latent_dim=latent_dim,
        encoder=encoder,
        decoder=decoder,
        n_steps=n_steps,
        batch_size=batch_size,
        learning_rate=learning_rate,
        seed=seed,
        guide_rank=guide_rank,
        model_options=dict(
            n_components=n_components,
            mixture_params=mixture_params,
            annotation_key=annotation_key,
            annotation_confidence=annotation_confidence,
            annotation_component_order=annotation_component_order,
            capture_prior=capture_prior,
            mrna_per_cell=mrna_per_cell,
            capture_prior_sigma=capture_prior_sigma,
            hierarchies=hierarchy_pairs(hierarchical, horseshoe),
            dataset_key=dataset_key,
            dataset_params=dataset_params,
        ),
        n_samples=n_samples,
        n_warmup=n_warmup,
        n_chains=n_chains,
        checkpoint_every=checkpoint_every,
        svi=svi,
        vae=vae,
        mcmc=mcmc,
    )
    if svi_init is not None and config.inference_method != "mcmc":
        raise ValueError("svi_init starts MCMC chains: it needs inference_method='mcmc'")
    for name, flag in (("resume", resume), ("progress", progress)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False, found {flag!r}")
    if checkpoint_dir is not None and Path(checkpoint_dir).is_file():
        raise ValueError(
            f"checkpoint_dir must be a directory, found a file: {str(checkpoint_dir)!r}"
        )
    counts = load_counts(data, layer=layer, argument="data")
    if config.batch_size is not None and config.batch_size > counts.n_cells:
        raise ValueError(
            f"batch_size must be <= the number of cells ({counts.n_cells}), "
            f"found {config.batch_size}"
        )
    config, priors, cells = data_dependent(config, priors, data, counts)
    run = dict(checkpoint_dir=checkpoint_dir, resume=resume, progress=progress)
    if config.inference_method == "mcmc":
        start = None if svi_init is None else svi_start(svi_init, config, counts)

        def model_of_fit():
            return make_model(config, counts, priors, **cells)

        draws = sample(model_of_fit, counts, config=config, start=start, **run)
        model = model_of_fit()
        if model.is_mixture:
            draws = relabelled(draws, model)
        results = ScribeResults(
            model=model,
            guide=None,
            encoder=None,
            loss_history=np.zeros(0),
            counts=counts,
            config=config,
            draws=draws,
        )
        warn_on_diagnostics(results.summary())
        return results
    modules = build_modules(config, counts, priors, encoder=encoder, decoder=decoder, **cells)
    trained = train(modules, counts, config=config, **run)
    warn_on_skipped_steps(trained)
    return ScribeResults(
        model=modules.model.with_networks(trained.state.networks),
        guide=trained.state.guide,
        encoder=trained.state.encoder,
        loss_history=trained.loss_history,
        counts=counts,
        config=config,
        skipped_steps=trained.skipped_steps,
    )


def data_dependent(
    config: FitConfig, priors: dict, data: Any, counts: CountData
) -> tuple[FitConfig, dict, dict[str, np.ndarray]]:
    """What the config's model takes from the data: per-cell codes (an annotation's
    components as ``cell_labels``, each cell's dataset as ``cell_datasets``; the label
    and dataset orders recorded in the config) and the biology-informed capture prior
    of each cell's total (added to ``priors`` and recorded as a user prior)."""
    model = config.model
    cells = {}
    if model.annotation_key is not None:
        cells["cell_labels"], order = annotation_labels(
            data, model.annotation_key, model.n_components, model.annotation_component_order
        )
        model = dataclasses.replace(model, annotation_component_order=order)
    if model.dataset_key is not None:
        cells["cell_datasets"], names = dataset_labels(data, model.dataset_key)
        model = dataclasses.replace(model, dataset_names=names)
    if model.capture_prior == "biology":
        coordinate = get_parameterization(model.parameterization).capture_coordinate
        if coordinate in priors:
            raise ValueError(
                f"capture_prior='biology' sets the prior of {coordinate!r}, which priors= "
                "also sets: pass one of them"
            )
        priors = {
            **priors,
            coordinate: informed_capture_prior(
                counts.total_counts,
                m0=model.mrna_per_cell,
                sigma=model.capture_prior_sigma,
                coordinate=coordinate,
            ),
        }
        model = dataclasses.replace(model, priors=describe_priors(priors))
    return dataclasses.replace(config, model=model), priors, cells


def relabelled(draws: McmcDraws, model: ScribeModel) -> McmcDraws:
    """A mixture's draws in one labelling of the components (``relabel_components``:
    each draw's permutation nearest the draw of highest log-joint, refined against the
    relabelled means), with a ``McmcWarning`` when any draw was relabelled."""
    draws, report = relabel_components(draws, model.mixture_params, model.n_components)
    if report.switched:
        warnings.warn(
            f"label switching: {report.n_permuted} of {report.n_draws} MCMC draws (per chain "
            f"{report.per_chain}) had their components permuted relative to the draw of "
            "highest log-joint; they were relabelled to match it (docs/mixtures.md)",
            McmcWarning,
            stacklevel=3,
        )
    return draws


def warn_on_skipped_steps(run: SviRun) -> None:
    """A ``TrainingWarning`` when some steps' updates were not finite and so skipped."""
    if run.skipped_steps:
        modules = ", ".join(f"{name} {n}" for name, n in run.skipped_updates.items())
        warnings.warn(
            f"{run.skipped_steps} of {run.loss_history.size} training steps were skipped "
            f"(updates skipped by module: {modules}): their loss or gradients were not "
            "finite (results.skipped_steps). A smaller learning_rate usually avoids it.",
            TrainingWarning,
            stacklevel=3,
        )


def svi_start(svi_init: Any, config: FitConfig, counts: CountData) -> dict[str, np.ndarray]:
    """The natural parameters MCMC's first chain starts from: ``svi_init``'s MAP, after
    checking it is of the same model on the same genes (and, with per-cell capture, the
    same cells); raised before anything runs."""
    if not isinstance(svi_init, ScribeResults):
        raise TypeError(f"svi_init must be ScribeResults or None, found {type(svi_init).__name__}")
    if svi_init.is_vae:
        raise ValueError(
            "svi_init must be results of a non-amortized fit (SVI or MCMC); VAE results "
            "hold a decoded mean per cell, not the model's per-gene parameters"
        )
    fitted, wanted = svi_init.config.model.model, config.model.model
    if fitted != wanted:
        raise ValueError(
            f"svi_init was fitted with model {fitted!r}; this MCMC fit is of model "
            f"{wanted!r}: fit SVI with the same model"
        )
    if svi_init.gene_names != tuple(str(g) for g in counts.gene_names):
        raise ValueError(
            f"svi_init was fitted to {len(svi_init.gene_names)} genes that are not the "
            f"{counts.n_genes} genes of data (in order)"
        )
    same_cells = svi_init.counts.n_cells == counts.n_cells and np.array_equal(
        svi_init.counts.cell_names, counts.cell_names
    )
    if svi_init.model.capture is not None and not same_cells:
        raise ValueError(
            f"svi_init was fitted to {svi_init.counts.n_cells} cells that are not the "
            f"{counts.n_cells} cells of data: its per-cell capture cannot start these chains"
        )
    # get_map holds the natural parameters whatever the fit's parameterization
    return {name: np.asarray(value) for name, value in svi_init.get_map().items()}
