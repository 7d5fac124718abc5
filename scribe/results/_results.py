"""``ScribeResults``: what ``fit`` returns, and every question asked of a fitted model."""

import dataclasses
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from jaxtyping import Array, PRNGKeyArray

from ..config import FitConfig
from ..data import CountData
from ..inference import McmcDraws
from ..likelihoods import log_likelihood
from ..likelihoods._models import expected_parameter_names
from ..model import ScribeModel
from . import _adata, _components, _datasets, _latent, _persist
from ._denoise import denoise_mean, denoise_sample
from ._draws import check_n_samples, key_or, mcmc_draws
from ._genes import gene_index, subset_config, subset_counts
from ._summary import summary_table


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class ScribeResults:
    """A fitted model: its guide and per-cell encoder (SVI, VAE) or its MCMC draws,
    loss history and config.

    Attributes
    ----------
    config
        The ``scribe.FitConfig`` of the fit (model, method and the method's settings).
    loss_history
        The negative ELBO at every step (empty for MCMC).
    skipped_steps
        Steps in which the update of some module (guide, encoder, a VAE's networks) was
        not finite and so skipped (``fit`` warns with the count of each module's).
    draws
        MCMC only: every chain's post-warmup draws and sampler statistics
        (``scribe.inference.McmcDraws``); ``guide`` and ``encoder`` are then None.
    """

    model: ScribeModel
    guide: Any
    encoder: Any
    loss_history: np.ndarray
    counts: CountData
    config: FitConfig
    skipped_steps: int = 0
    draws: McmcDraws | None = None

    # __getitem__ selects genes; without this Python would iterate results by calling it
    # with 0, 1, 2, ... until an IndexError.
    __iter__ = None

    @property
    def gene_names(self) -> tuple[str, ...]:
        """Names of the genes the model was fitted to."""
        return tuple(str(g) for g in self.counts.gene_names)

    def __getitem__(self, genes: Any) -> "ScribeResults":
        """New results over some genes only, as ``adata[:, genes]`` selects them.

        Per-gene parameters of the guide and priors (``r``, ``mu``, ``gate``, ...) are
        taken at the selected genes, in the order given; shared ones (``p``, ``phi``)
        and the per-cell capture are kept, as are the loss history and configs (with
        ``guide_rank`` lowered if the subset is smaller than the rank). Each kept
        gene's variational marginal is exactly the full guide's, jointly so for the
        low-rank guides; MCMC draws keep every draw at the selected genes (so
        ``get_map`` still picks the draw of highest log-joint under the full model). The
        counts keep each cell's total over all fitted genes, which the capture encoder
        reads. These results are left unchanged.

        Parameters
        ----------
        genes
            An int (negative counts from the end), a slice, a sequence or 1-D array of
            ints, a boolean mask of length ``n_genes``, or a gene name or sequence of
            names from ``gene_names``. The selection must be non-empty and may not
            repeat a gene.

        Returns
        -------
        ScribeResults
            Results over the selected genes (one gene for an int or a name).

        Raises
        ------
        IndexError
            An integer out of range, a mask of the wrong length, a multi-dimensional index.
        TypeError
            A float, bool or other non-index value, or a sequence mixing names and ints.
        ValueError
            An unknown or ambiguous gene name, an empty selection, a repeated gene.

        Examples
        --------
        >>> import numpy as np, scribe
        >>> counts = np.random.default_rng(0).poisson(3.0, (20, 4))
        >>> results = scribe.fit(counts, model="nbdm", n_steps=5, progress=False)
        >>> subset = results[["gene_3", "gene_1"]]
        >>> subset.gene_names, subset.get_map()["r"].shape
        (('gene_3', 'gene_1'), (2,))
        """
        self._not_for_vae(
            "results[genes]",
            "the decoder maps z to every gene at once (the library-size softmax and the LNM "
            "composition normalise over all of them), so a gene subset is not a sub-model; "
            "select genes in get_decoded_params() or get_posterior_samples() instead",
        )
        index = gene_index(genes, self.gene_names)
        model = self.model.subset_genes(index)
        guide, draws = self.guide, self.draws
        if self.is_mcmc:
            draws = draws.subset_genes(index, set(self.model.per_gene_globals))
        else:
            guide = guide.subset_genes(index, self.model.per_gene_globals)
        return dataclasses.replace(
            self,
            model=model,
            guide=guide,
            draws=draws,
            counts=subset_counts(self.counts, index),
            config=subset_config(self.config, model, guide),
        )

    @property
    def n_components(self) -> int | None:
        """K of a mixture fit (None: one component)."""
        return self.model.n_components

    @property
    def component_names(self) -> tuple[str, ...]:
        """Each mixture component's name: its annotation label, else ``component_<k>``."""
        self._require_mixture("component_names")
        return _components.component_names(self.config)

    def _require_mixture(self, what: str) -> None:
        if not self.model.is_mixture:
            raise ValueError(f"{what} needs a mixture fit (n_components=K)")

    def cell_type_probabilities(
        self,
        n_samples: int | None = None,
        *,
        by_draw: bool = False,
        key: PRNGKeyArray | None = None,
    ) -> np.ndarray:
        """Each cell's posterior probability of belonging to each component.

        For a posterior draw θ, ``P(z_c = k | u_c, θ) = softmax_k(log w_ck + Σ_g log
        p_k(u_cg | θ))``, with ``w_c`` the weights (nudged by the cell's annotation label,
        if any). Averaged over draws this is ``P(z_c = k | u)``.

        Parameters
        ----------
        n_samples
            Posterior draws (None: 100 from a guide, every MCMC draw).
        by_draw
            Return every draw's, ``(draws, cells, K)``, instead of their mean
            ``(cells, K)``.
        key
            PRNG key of the draws.
        """
        self._require_mixture("cell_type_probabilities")
        self._require_cell_draws("cell_type_probabilities")
        globals_, locals_ = self._draws(n_samples, key_or(key, 4))
        probs = _components.responsibilities(self.model, globals_, locals_, self._full_batch())
        probs = np.asarray(probs)
        return probs if by_draw else probs.mean(axis=0)

    def get_component(self, k: int | str) -> "ScribeResults":
        """Results of one mixture component, as a one-component fit of the same model.

        Component-specific globals are this component's; shared ones and each cell's
        capture are kept (the variational marginal exactly, jointly for low-rank
        guides; MCMC: every draw's values after relabelling). The weights are dropped.
        Every method of results applies (``get_map``, samples, ``results[genes]``,
        ``denoise_counts``, ``save``, differential expression between components).

        Parameters
        ----------
        k
            The component's index (negative from the end) or name
            (``component_names``).
        """
        self._require_mixture("get_component")
        return _components.component_results(self, k)

    @property
    def n_datasets(self) -> int | None:
        """The number of datasets of a multi-dataset fit (None otherwise)."""
        return self.model.n_datasets

    @property
    def dataset_names(self) -> tuple[str, ...]:
        """Each dataset's name (its ``dataset_key`` value), in the order of the copies."""
        if self.model.datasets is None:
            raise ValueError("dataset_names needs a multi-dataset fit (dataset_key)")
        return self.config.model.dataset_names

    def get_dataset(self, d: int | str) -> "ScribeResults":
        """Results of one dataset of a multi-dataset fit: its cells, its copies.

        The per-dataset globals are this dataset's (the variational marginal exactly,
        jointly for low-rank guides; MCMC: every draw's values), shared ones kept, the
        population's location and scale dropped; the counts, per-cell latents and
        per-cell priors are those of the dataset's cells. Every method of results
        applies, as to a single-dataset fit (``get_map``, samples, ``results[genes]``,
        ``denoise_counts``, ``save``, differential expression between datasets).

        Parameters
        ----------
        d
            The dataset's index (negative from the end) or name (``dataset_names``).
        """
        return _datasets.dataset_results(self, d)

    def get_distributions(self) -> dict[str, dist.Distribution]:
        """The variational marginal of each global parameter (constrained space)."""
        if self.is_mcmc:
            raise ValueError(
                "get_distributions does not apply to MCMC results: they hold draws, not a "
                "variational distribution; use get_posterior_samples() or summary()"
            )
        return self.guide.marginals()

    @property
    def is_mcmc(self) -> bool:
        """Whether these are MCMC draws (``inference_method="mcmc"``)."""
        return self.draws is not None

    def summary(self, *, n_samples: int = 1000, key: PRNGKeyArray | None = None):
        """A table of every parameter's posterior, one row per scalar (``r[gene]``,
        ``p``, ``p_capture[cell]``, and the natural parameters the coordinates imply).

        Columns ``mean``, ``sd``, ``q5``, ``median``, ``q95``; for MCMC also the split
        ``r_hat`` and the ``ess_bulk`` / ``ess_tail`` of Vehtari et al. (2021), over all
        draws of every chain, and ``table.attrs["sampler"]``: per chain the
        divergences, the trees that reached ``max_tree_depth``, the step size and the
        mean acceptance probability. SVI and VAE results summarise ``n_samples`` draws
        of their variational posterior (no diagnostics). An MCMC run that kept no
        per-cell draws (``McmcConfig(keep_cell_draws=False)``) has each cell's sampled
        capture coordinate with its mean and sd only.

        Returns
        -------
        pandas.DataFrame
        """
        cell_moments = None
        if self.is_mcmc:
            samples = self.get_posterior_samples(group_by_chain=True)
            sampler = self.draws.sampler_statistics()
            if not self.draws.keeps_cell_draws:
                cell_moments = self.draws.cell_moments()
        else:
            samples = self.get_posterior_samples(n_samples, key=key_or(key, 3))
            samples = {n: v[None] for n, v in samples.items()}  # one "chain"
            sampler = None
        return summary_table(
            samples,
            cell_names=[str(c) for c in self.counts.cell_names],
            gene_names=self.gene_names,
            local_names=self.model.local_names,
            sampler=sampler,
            cell_moments=cell_moments,
        )

    @property
    def diagnostics(self) -> dict:
        """MCMC sampler statistics per chain (``summary().attrs["sampler"]``)."""
        if not self.is_mcmc:
            raise ValueError("diagnostics needs MCMC results (inference_method='mcmc')")
        return self.draws.sampler_statistics()

    def _local_medians(self) -> dict[str, Array]:
        if self.encoder is None:
            return {}
        batch = self.counts.to_device().full_batch()
        return self.encoder.median(batch)

    @property
    def is_vae(self) -> bool:
        """Whether a VAE was fitted (a latent ``z`` per cell and a decoder)."""
        return self.model.decoder is not None

    def _not_for_vae(self, what: str, why: str) -> None:
        if self.is_vae:
            raise ValueError(f"{what} does not apply to VAE results: {why}")

    def _require_cell_draws(self, what: str) -> None:
        if self.is_mcmc and not self.draws.keeps_cell_draws:
            raise ValueError(
                f"{what} needs every draw of each cell's capture, which this MCMC run did "
                "not keep (McmcConfig(keep_cell_draws=False)); it kept their posterior mean "
                "and sd (summary()) and the MAP (get_map()). Refit with keep_cell_draws=True"
            )

    def _require_vae(self, what: str) -> None:
        if not self.is_vae:
            raise ValueError(f"{what} needs a VAE fit (inference_method='vae')")

    def get_latent_embeddings(self, data: Any = None) -> np.ndarray:
        """Posterior mean of each cell's latent ``z``, ``(cells, latent_dim)``; for new
        cells (``data``, same genes) through the encoder."""
        self._require_vae("get_latent_embeddings")
        return _latent.latent_embeddings(self.encoder, self._cells(data))

    def get_latent_samples(
        self, n_samples: int = 100, *, key: PRNGKeyArray, data: Any = None
    ) -> np.ndarray:
        """Draws of each cell's ``z``, ``(n_samples, cells, latent_dim)``."""
        self._require_vae("get_latent_samples")
        return _latent.latent_samples(self.encoder, self._cells(data), n_samples, key=key)

    def get_decoded_params(self, data: Any = None) -> dict[str, np.ndarray]:
        """Per-cell, per-gene likelihood parameters decoded at each cell's posterior
        median ``z`` (``mu``, ``r``, ``gate`` for ZI, ``p_capture`` for VCP models)."""
        self._require_vae("get_decoded_params")
        return _latent.decoded_params(self.model, self.guide, self.encoder, self._cells(data))

    def log_marginal_likelihood(
        self, data: Any = None, *, n_samples: int = 100, key: PRNGKeyArray
    ) -> np.ndarray:
        """Importance-sampled ``log p(u_c)`` of each cell (the encoder as proposal)."""
        self._require_vae("log_marginal_likelihood")
        if data is not None and self.model.has_per_cell_priors:
            raise ValueError(
                "log_marginal_likelihood of new cells needs their capture prior, but this "
                "model's has parameters per fitted cell; score the fitted cells (data=None)"
            )
        return _latent.log_marginal_likelihood(
            self.model, self.guide, self.encoder, self._cells(data), n_samples=n_samples, key=key
        )

    def get_map(self) -> dict[str, Array]:
        """Point estimates: each sampled coordinate at its variational median, plus the
        natural parameters (``r``, ``p``, ``mu``, ``gate``, ``p_capture``) they imply.

        For MCMC: the draw of highest log-joint ``log p(θ, counts)`` (recorded for every
        draw), with the natural parameters it implies.

        For a VAE: ``r`` (per gene) and each cell's capture; the decoded per-cell
        parameters come from ``get_decoded_params``."""
        if self.is_mcmc:
            globals_, _ = self.draws.flat()
            best = self.draws.best_index()
            globals_ = {n: jnp.asarray(v[best]) for n, v in globals_.items()}
            locals_ = {n: jnp.asarray(v) for n, v in self.draws.best_locals().items()}
            return {**globals_, **locals_, **self.model.natural(globals_, locals_)}
        if self.is_vae:
            point = dict(self.guide.median())
            if self.model.capture is not None:
                locals_ = self.encoder.median(self._full_batch())
                point.update(self.model.capture.to_natural(locals_))
            return point
        globals_ = self.guide.median()
        locals_ = self._local_medians()
        return {**globals_, **locals_, **self.model.natural(globals_, locals_)}

    def _full_batch(self):
        return self.counts.to_device().full_batch()

    def _cells(self, data: Any):
        """All cells of ``data`` (None: the fitted ones) as one batch, genes checked."""
        return _latent.cells_batch(self.counts, data)

    def _draws(self, n_samples: int | None, key: PRNGKeyArray | None) -> tuple[dict, dict]:
        """Posterior draws of the globals (guide) and of every cell's latents (encoder),
        leading axis the draw. MCMC: globals and locals of the same draws, all of them
        chain by chain (``n_samples`` None) or ``n_samples`` distinct ones at random."""
        if self.is_mcmc:
            return mcmc_draws(self.draws, n_samples, key)
        n_samples = 100 if n_samples is None else n_samples
        check_n_samples(n_samples)
        key_globals, key_locals = jax.random.split(key)
        globals_ = self.guide.sample((n_samples,), key=key_globals)
        locals_ = {}
        if self.encoder is not None:
            locals_ = _latent.encoder_draws(
                self.encoder, self._full_batch(), jax.random.split(key_locals, n_samples)
            )
        return globals_, locals_

    def get_posterior_samples(
        self,
        n_samples: int | None = None,
        *,
        key: PRNGKeyArray | None = None,
        group_by_chain: bool = False,
    ) -> dict[str, Array]:
        """Draws of every parameter, leading axis the draw.

        Globals (sampled coordinates and the natural ``r``, ``p``, ``mu``, ``gate`` they
        imply) come from the guide; per-cell capture (``p_capture``, ``(draws, cells)``)
        from the encoder. For a VAE: each cell's ``z`` ``(draws, cells, latent_dim)``
        and what the decoder makes of it, ``(draws, cells, genes)`` (``mu``, ``gate``;
        ``alr`` and ``composition`` for lnm / lnmvcp): mind the size. For MCMC the
        globals and per-cell latents of each draw come from the same NUTS iteration.

        Parameters
        ----------
        n_samples
            Number of draws; None: 100 from a guide, every MCMC draw (chain by chain).
        key
            PRNG key (``jax.random.key(0)`` when omitted).
        group_by_chain
            MCMC only, with every draw: leading axes ``(chains, draws)`` (numpyro's
            ``MCMC.get_samples(group_by_chain=True)``).
        """
        if group_by_chain and not (self.is_mcmc and n_samples is None):
            raise ValueError("group_by_chain=True needs MCMC results and n_samples=None")
        key = jax.random.key(0) if key is None else key
        globals_, locals_ = self._draws(n_samples, key)
        if self.is_vae:
            decoded = _latent.decoded_draws(self.model, globals_, locals_, self._full_batch())
            return {**locals_, **decoded, **globals_}
        natural = jax.vmap(self.model.natural)(globals_, locals_)
        samples = {**globals_, **locals_, **natural}
        if group_by_chain:
            chains = (self.draws.n_chains, self.draws.n_draws)
            samples = {n: jnp.reshape(v, (*chains, *v.shape[1:])) for n, v in samples.items()}
        return samples

    def get_predictive_samples(
        self, n_samples: int = 10, *, key: PRNGKeyArray | None = None
    ) -> Array:
        """Posterior predictive counts, ``(draws, cells, genes)`` (dense: mind the size)."""
        self._require_cell_draws("get_predictive_samples")
        key = jax.random.key(1) if key is None else key
        key_params, key_counts = jax.random.split(key)
        draws = self._draws(n_samples, key_params)
        batch = self._full_batch()
        shape = (self.counts.n_cells, self.model.n_genes)

        def one(globals_, locals_, k):
            params = self.model.likelihood_params(globals_, locals_, batch)
            return self.model.likelihood.sample(params, shape, key=k)

        return jax.lax.map(
            lambda args: one(*args), (*draws, jax.random.split(key_counts, n_samples))
        )

    def log_likelihood(
        self,
        counts: Any = None,
        *,
        return_by: str = "cell",
        n_samples: int | None = None,
        key: PRNGKeyArray | None = None,
    ) -> Array:
        """``log p(counts | draw)`` for each posterior draw, ``(draws, cells)`` or
        ``(draws, genes)``, through ``scribe.log_likelihood`` (for a VAE, through the
        model's sparse likelihood at each draw of the cells' latents). ``n_samples``:
        as in ``get_posterior_samples`` (None: 100 guide draws, or every MCMC draw).

        ``counts`` defaults to the data the model was fitted to; other counts must have
        the same cells (capture and ``z`` are per cell) and genes.
        """
        if self.is_vae:
            return _latent.log_likelihood_draws(
                self.model,
                self._cells(counts),
                return_by,
                *self._draws(n_samples, key_or(key, 0)),
                n_fitted_cells=self.counts.n_cells,
            )
        self._require_cell_draws("log_likelihood")
        counts = self.counts.matrix if counts is None else counts
        draws = self.get_posterior_samples(n_samples, key=key)
        names = expected_parameter_names(self.model.model, mixture=self.model.is_mixture)
        return jax.lax.map(
            lambda d: log_likelihood(counts, self.model.model, d, return_by=return_by),
            {n: draws[n] for n in names},
        )

    def denoise_counts(
        self,
        *,
        method: str = "map",
        n_samples: int = 10,
        key: PRNGKeyArray | None = None,
    ) -> Array:
        """Pre-capture counts given the observed ones (variable-capture models).

        ``m - u | u ~ NB(r + u, p (1 - ν))`` (MATH.md); with zero inflation an observed
        zero is a technical zero with its posterior probability, and then ``m ~ NB(r, p)``.

        Parameters
        ----------
        method
            ``"map"``: ``E[m | u]`` at the MAP parameters, ``(cells, genes)``;
            ``"sample"``: draws of ``m`` under posterior draws, ``(draws, cells, genes)``.
        """
        self._not_for_vae(
            "denoise_counts",
            "it uses the SVI models' per-gene NB(r, p); a VAE's decoded mean is per cell",
        )
        if self.model.capture is None or "r" not in self.model.parameterization.natural:
            raise ValueError(
                "denoise_counts needs a variable-capture Negative Binomial model (nbvcp, "
                f"zinbvcp), found {self.model.model!r}"
            )
        if method not in ("map", "sample"):
            raise ValueError(f"method must be 'map' or 'sample', found {method!r}")
        counts = jnp.asarray(self.counts.dense())
        if method == "map":
            return denoise_mean(counts, self.get_map())
        self._require_cell_draws("denoise_counts(method='sample')")
        key = jax.random.key(2) if key is None else key
        key_params, key_counts = jax.random.split(key)
        draws = self.get_posterior_samples(n_samples, key=key_params)
        return jax.lax.map(
            lambda args: denoise_sample(counts, *args),
            (draws, jax.random.split(key_counts, n_samples)),
        )

    def to_adata(self, adata: Any) -> Any:
        """Write MAP summaries into ``adata`` (in place, keys prefixed ``scribe_``).

        Per-gene values go to ``var`` (``scribe_r``, ``scribe_mu``, ``scribe_p``,
        ``scribe_gate`` where the model has them), per-cell ones to ``obs``
        (``scribe_p_capture``), a VAE's latent embeddings to ``obsm["X_scribe"]``, and
        the run's configs and final loss (for MCMC its sampler statistics) to
        ``uns["scribe"]``; MCMC point values are those of ``get_map``. A mixture's
        per-component values go to ``varm`` (genes × K, e.g. ``varm["scribe_r"]``), each
        cell's most probable component to ``obs["scribe_component"]`` (categorical,
        ``component_names``) and its probabilities (``cell_type_probabilities``) to
        ``obsm["scribe_component_probs"]``; a multi-dataset fit's per-dataset values go to
        ``varm`` (genes × D) too. ``adata`` must hold the fitted genes in the fitted order
        and the fitted number of cells.

        Returns
        -------
        The same AnnData, for chaining.
        """
        return _adata.write_adata(self, adata)

    def save(self, path: str | Path) -> None:
        """Write these results to a new directory (Orbax arrays + JSON; never pickle).

        ``scribe.load(path)`` reads them back. An existing non-empty ``path`` is refused.
        A gene subset (``results[genes]``) keeps each cell's total over all fitted genes,
        which an amortized capture encoder reads.
        """
        _persist.write(path, _persist.results_metadata(self), _persist.results_state(self))

    def __repr__(self) -> str:
        final = self.loss_history[-1] if self.loss_history.size else float("nan")
        run = f"steps={self.loss_history.size}, final_loss={final:.6g}"
        if self.is_mcmc:
            run = f"chains={self.draws.n_chains}, draws={self.draws.n_draws}"
        return (
            f"ScribeResults(model={self.config.model.model!r}, "
            f"parameterization={self.config.model.parameterization!r}, "
            f"n_cells={self.counts.n_cells}, n_genes={self.counts.n_genes}, {run})"
        )
