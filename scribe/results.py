"""``ScribeResults``: what ``fit`` returns, and every question asked of a fitted model."""

import dataclasses
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from jaxtyping import Array, PRNGKeyArray

from ._config import InferenceConfig, ModelConfig
from .data import CountData
from .likelihoods._formulas import (
    gamma_poisson_sample,
    nb_denoised_mean,
    nb_mean,
    nb_thinned_probs,
    nb_uncaptured_probs,
)
from .likelihoods._models import build_params
from .model import ScribeModel


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class ScribeResults:
    """A fitted model: its guide, per-cell encoder, loss history and configs.

    Attributes
    ----------
    loss_history
        The negative ELBO at every step.
    skipped_steps
        Steps whose non-finite update was skipped.
    """

    model: ScribeModel
    guide: Any
    encoder: Any
    loss_history: np.ndarray
    counts: CountData
    model_config: ModelConfig
    inference_config: InferenceConfig
    skipped_steps: int = 0

    @property
    def gene_names(self) -> tuple[str, ...]:
        """Names of the genes the model was fitted to."""
        return tuple(str(g) for g in self.counts.gene_names)

    def get_distributions(self) -> dict[str, dist.Distribution]:
        """The variational marginal of each global parameter (constrained space)."""
        return self.guide.marginals()

    def _local_medians(self) -> dict[str, Array]:
        if self.encoder is None:
            return {}
        batch = self.counts.to_device().full_batch()
        return self.encoder.median(batch)

    def get_map(self) -> dict[str, Array]:
        """Point estimates: each sampled coordinate at its variational median, plus the
        natural parameters (``r``, ``p``, ``mu``, ``gate``, ``p_capture``) they imply."""
        globals_ = self.guide.median()
        locals_ = self._local_medians()
        return {**globals_, **locals_, **self.model.natural(globals_, locals_)}

    def _full_batch(self):
        return self.counts.to_device().full_batch()

    def get_posterior_samples(
        self, n_samples: int = 100, *, key: PRNGKeyArray | None = None
    ) -> dict[str, Array]:
        """Draws of every parameter, leading axis the draw.

        Globals (sampled coordinates and the natural ``r``, ``p``, ``mu``, ``gate`` they
        imply) come from the guide; per-cell capture (``p_capture``, ``(draws, cells)``)
        from the encoder.

        Parameters
        ----------
        n_samples
            Number of draws.
        key
            PRNG key (``jax.random.key(0)`` when omitted).
        """
        if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive int, found {n_samples!r}")
        key = jax.random.key(0) if key is None else key
        key_globals, key_locals = jax.random.split(key)
        globals_ = self.guide.sample((n_samples,), key=key_globals)
        locals_ = {}
        if self.encoder is not None:
            batch = self._full_batch()
            keys = jax.random.split(key_locals, n_samples)
            locals_ = jax.vmap(lambda k: self.encoder.sample_and_log_prob(batch, key=k)[0])(keys)
        natural = jax.vmap(self.model.natural)(globals_, locals_)
        return {**globals_, **locals_, **natural}

    def _likelihood_params(self, natural: dict[str, Array], n_cells: int):
        names = ("r", "p", "gate", "p_capture")
        return build_params(
            self.model.model,
            {n: natural[n] for n in names if n in natural},
            n_cells=n_cells,
            n_genes=self.model.n_genes,
            n_components=None,
        )

    def get_predictive_samples(
        self, n_samples: int = 10, *, key: PRNGKeyArray | None = None
    ) -> Array:
        """Posterior predictive counts, ``(draws, cells, genes)`` (dense: mind the size)."""
        key = jax.random.key(1) if key is None else key
        key_params, key_counts = jax.random.split(key)
        draws = self.get_posterior_samples(n_samples, key=key_params)
        shape = (self.counts.n_cells, self.model.n_genes)

        def one(draw, k):
            params = self._likelihood_params(draw, self.counts.n_cells)
            return self.model.likelihood.sample(params, shape, key=k)

        return jax.lax.map(
            lambda args: one(*args), (draws, jax.random.split(key_counts, n_samples))
        )

    def log_likelihood(
        self,
        counts: Any = None,
        *,
        return_by: str = "cell",
        n_samples: int = 100,
        key: PRNGKeyArray | None = None,
    ) -> Array:
        """``log p(counts | draw)`` for each posterior draw, ``(draws, cells)`` or
        ``(draws, genes)``, through ``scribe.log_likelihood``.

        ``counts`` defaults to the data the model was fitted to; other counts must have
        the same cells (capture is per cell) and genes.
        """
        from ._log_likelihood import log_likelihood

        counts = self.counts.matrix if counts is None else counts
        draws = self.get_posterior_samples(n_samples, key=key)
        names = [n for n in ("r", "p", "gate", "p_capture") if n in draws]
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
        if self.model.capture is None:
            raise ValueError(
                f"denoise_counts needs a variable-capture model, found {self.model.model!r}"
            )
        if method not in ("map", "sample"):
            raise ValueError(f"method must be 'map' or 'sample', found {method!r}")
        counts = jnp.asarray(self.counts.dense())
        if method == "map":
            return _denoise_mean(counts, self.get_map())
        key = jax.random.key(2) if key is None else key
        key_params, key_counts = jax.random.split(key)
        draws = self.get_posterior_samples(n_samples, key=key_params)
        return jax.lax.map(
            lambda args: _denoise_sample(counts, *args),
            (draws, jax.random.split(key_counts, n_samples)),
        )

    def to_adata(self, adata: Any) -> Any:
        """Write MAP summaries into ``adata`` (in place, keys prefixed ``scribe_``).

        Per-gene values go to ``var`` (``scribe_r``, ``scribe_mu``, ``scribe_p``,
        ``scribe_gate`` where the model has them), per-cell ones to ``obs``
        (``scribe_p_capture``), and the run's configs and final loss to
        ``uns["scribe"]``. ``adata`` must hold the fitted genes in the fitted order and
        the fitted number of cells.

        Returns
        -------
        The same AnnData, for chaining.
        """
        import anndata

        if not isinstance(adata, anndata.AnnData):
            raise TypeError(f"adata must be an AnnData, found {type(adata).__name__}")
        genes = [str(g) for g in adata.var_names]
        if genes != list(self.gene_names):
            differ = sum(a != b for a, b in zip(genes, self.gene_names, strict=False))
            raise ValueError(
                f"adata.var_names must be the {len(self.gene_names)} fitted genes in order, "
                f"found {len(genes)} genes ({differ} of the first "
                f"{min(len(genes), len(self.gene_names))} differ)"
            )
        if adata.n_obs != self.counts.n_cells:
            raise ValueError(
                f"adata must have the {self.counts.n_cells} fitted cells, found {adata.n_obs}"
            )
        point = self.get_map()
        n_genes = self.model.n_genes
        for name in ("r", "mu", "p", "gate"):
            if name in point:
                value = np.broadcast_to(np.asarray(point[name]), (n_genes,))
                adata.var[f"scribe_{name}"] = value
        if "p_capture" in point:
            adata.obs["scribe_p_capture"] = np.asarray(point["p_capture"])
        adata.uns["scribe"] = {
            "model_config": dataclasses.asdict(self.model_config),
            "inference_config": dataclasses.asdict(self.inference_config),
            "n_steps_run": int(self.loss_history.size),
            "final_loss": float(self.loss_history[-1]) if self.loss_history.size else None,
            "skipped_steps": int(self.skipped_steps),
        }
        return adata

    def save(self, path: str | Path) -> None:
        """Write these results to a new directory (Orbax arrays + JSON; never pickle).

        ``scribe.load(path)`` reads them back. An existing non-empty ``path`` is refused.
        """
        from ._persist import save_results

        save_results(self, path)

    def __repr__(self) -> str:
        final = self.loss_history[-1] if self.loss_history.size else float("nan")
        return (
            f"ScribeResults(model={self.model_config.model!r}, "
            f"parameterization={self.model_config.parameterization!r}, "
            f"n_cells={self.counts.n_cells}, n_genes={self.counts.n_genes}, "
            f"steps={self.loss_history.size}, final_loss={final:.6g})"
        )


def _technical_zero_probability(counts, natural) -> Array | None:
    """Posterior probability that an observed zero came from the gate (None without one)."""
    if "gate" not in natural:
        return None
    r, gate = natural["r"][None, :], natural["gate"][None, :]
    p_hat = nb_thinned_probs(natural["p"], natural["p_capture"][:, None])
    log_nb_zero = r * jnp.log1p(-p_hat)
    prob = gate / (gate + (1.0 - gate) * jnp.exp(log_nb_zero))
    return jnp.where(counts == 0, prob, 0.0)


def _denoise_mean(counts, natural) -> Array:
    r, p, nu = natural["r"][None, :], natural["p"], natural["p_capture"][:, None]
    biological = nb_denoised_mean(counts, r, p, nu)
    technical = _technical_zero_probability(counts, natural)
    if technical is None:
        return biological
    return technical * nb_mean(r, p) + (1.0 - technical) * biological


def _denoise_sample(counts, natural, key) -> Array:
    r, p, nu = natural["r"][None, :], natural["p"], natural["p_capture"][:, None]
    key_missed, key_gate, key_prior = jax.random.split(key, 3)
    q = nb_uncaptured_probs(p, nu)
    shape = counts.shape
    missed = gamma_poisson_sample(key_missed, r + counts, q / (1.0 - q), shape)
    biological = counts + missed
    technical = _technical_zero_probability(counts, natural)
    if technical is None:
        return biological
    prior = gamma_poisson_sample(key_prior, r, p / (1.0 - p), shape)
    is_technical = jax.random.bernoulli(key_gate, technical)
    return jnp.where(is_technical, prior, biological)
