"""``ScribeModel``: likelihood, parameterization, priors and local latents, one log-joint."""

from collections.abc import Collection, Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from jaxtyping import Array, Float, Int

from ..data import Batch
from ..decoders import AbstractDecoder
from ..latent_priors import AbstractLatentPrior
from ..likelihoods import (
    AbstractLikelihood,
    CaptureParams,
    LNMParams,
    NBLogMeanParams,
    NBParams,
    VariableCapture,
    ZIParams,
    make_likelihood,
)
from ..likelihoods._models import build_params, expected_parameter_names, model_spec
from ..likelihoods._sparse import (
    sparse_component_log_prob_sum,
    sparse_log_prob_sum,
    sparse_log_prob_total,
    sparse_mixture_log_prob_total,
)
from ..parameterizations import AbstractParameterization, default_prior, get_capture
from ._checks import check_vae
from ._mixture import (
    MIXING,
    cell_log_weights,
    from_component_layout,
    mixing_prior,
    mixing_weights,
    to_component_layout,
)
from ._mixture import (
    mixing_logits as mixing_logits_of,
)
from ._priors import check_local_prior, local_log_prob, subset_prior


class ScribeModel(eqx.Module):
    """The generative model every inference method shares, through ``log_joint``.

    Global parameters are the parameterization's sampled coordinates (plus ``gate`` for
    zero-inflated models), named and shaped as in ``global_shapes``; local (per-cell)
    latents are the capture coordinate of variable-capture models.

    With a ``decoder`` (the VAE), each cell has a latent ``z`` with prior
    ``latent_prior``, the NB mean of every gene is decoded from it (``NB(r_g, mean)`` in
    the log-mean form, thinned by capture for VCP models, zero-inflated with a decoded
    gate for ZI models), and the only global is the per-gene size ``r``. For lnm and
    lnmvcp the decoder gives each cell's composition in ALR coordinates (against its
    ``reference_gene``) and the globals are the shared ``r`` and ``p`` of the NB total.

    Parameters
    ----------
    model
        An NB-family model name (nbdm, zinb, nbvcp, zinbvcp; lnm and lnmvcp with a
        decoder).
    parameterization
        The coordinates globals are sampled in.
    n_cells, n_genes
        Size of the data set (the minibatch scaling uses ``n_cells``).
    unconstrained
        Priors as Normal(0, 1) pushed through transforms instead of the constrained ones.
    priors
        Overrides of the default priors, by coordinate name.
    decoder, latent_prior
        The VAE's decoder (``scribe.decoders``) and the prior of ``z``
        (``scribe.latent_priors``); both or neither.
    n_components
        K >= 2: a K-component mixture (``p(u_c) = Σ_k π_k ∏_g p_k(u_cg)``), its weights
        sampled as ``mixing_logits`` under a Dirichlet(1) prior (``priors=`` may give
        another ``scribe.model.mixing_prior``). Not with a decoder.
    mixture_params
        The globals that differ between components, each with a leading axis of K
        (None: every global; the capture stays per cell).
    cell_labels, annotation_confidence
        Annotation-guided mixture: each fitted cell's component (−1: unlabelled) and
        κ, which nudge a labelled cell's weights to ``softmax(log π + κ·onehot)``.
    """

    model: str = eqx.field(static=True)
    likelihood: AbstractLikelihood
    parameterization: AbstractParameterization
    capture: AbstractParameterization | None
    global_priors: dict[str, dist.Distribution]
    local_priors: dict[str, dist.Distribution]
    n_cells: int = eqx.field(static=True)
    n_genes: int = eqx.field(static=True)
    decoder: AbstractDecoder | None
    latent_prior: AbstractLatentPrior | None
    n_components: int | None = eqx.field(static=True)
    mixture_params: tuple[str, ...] = eqx.field(static=True)
    cell_labels: Int[Array, " cells"] | None
    annotation_confidence: float = eqx.field(static=True)

    def __init__(
        self,
        model: str,
        parameterization: AbstractParameterization,
        *,
        n_cells: int,
        n_genes: int,
        unconstrained: bool = False,
        priors: Mapping[str, dist.Distribution] | None = None,
        decoder: AbstractDecoder | None = None,
        latent_prior: AbstractLatentPrior | None = None,
        n_components: int | None = None,
        mixture_params: Collection[str] | None = None,
        cell_labels: Int[np.ndarray, " cells"] | None = None,
        annotation_confidence: float = 3.0,
    ):
        spec = model_spec(model)
        self.model = model
        self.parameterization = parameterization
        self.n_cells, self.n_genes = n_cells, n_genes
        self.decoder, self.latent_prior = decoder, latent_prior
        priors = dict(priors or {})
        if decoder is None:
            self.likelihood = make_likelihood(model)
            own = {k: v for k, v in priors.items() if k in parameterization.sampled}
            self.global_priors = parameterization.priors(
                unconstrained=unconstrained, overrides=own
            )
        else:
            check_vae(spec, decoder, latent_prior, n_genes)
            # The decoder gives each cell's composition (lnm) or NB mean (the others).
            lnm = spec.family == "lnm"
            self.likelihood = make_likelihood(
                model,
                family=None if lnm else "nb_log_mean",
                reference_gene=decoder.reference_gene if lnm else None,
            )
            if spec.family == "lnm":  # the NB of each cell's total: shared r and p
                own = {k: v for k, v in priors.items() if k in parameterization.sampled}
                self.global_priors = parameterization.priors(
                    unconstrained=unconstrained, overrides=own
                )
            else:
                self.global_priors = {
                    "r": priors.get("r", default_prior("r", unconstrained=unconstrained))
                }
        if spec.zero_inflated and decoder is None:
            self.global_priors["gate"] = priors.get(
                "gate", default_prior("gate", unconstrained=unconstrained)
            )
        self.capture = get_capture(parameterization) if spec.variable_capture else None
        self.local_priors = {}
        if self.capture is not None:
            self.local_priors = self.capture.priors(
                unconstrained=unconstrained,
                overrides={k: v for k, v in priors.items() if k in self.capture.sampled},
            )
        for name, prior in self.local_priors.items():
            check_local_prior(name, prior, n_cells)
        self._set_mixture(n_components, mixture_params, priors)
        self._set_annotation(cell_labels, annotation_confidence)
        known = set(self.global_priors) | set(self.local_priors)
        unknown = sorted(set(priors) - known)
        if unknown:
            raise ValueError(
                f"priors names {unknown}, which model {model!r} with parameterization "
                f"{parameterization.name!r} does not have; valid names: {sorted(known)}"
            )

    def _set_mixture(self, n_components, mixture_params, priors) -> None:
        self.n_components = n_components
        self.mixture_params = ()
        if n_components is None:
            if mixture_params is not None:
                raise ValueError("mixture_params needs n_components (K >= 2)")
            return
        if isinstance(n_components, bool) or not isinstance(n_components, int):
            raise TypeError(f"n_components must be an int, found {n_components!r}")
        if n_components < 2:
            raise ValueError(f"n_components must be >= 2, found {n_components}")
        if self.decoder is not None:
            raise ValueError("a VAE (decoder) cannot also be a mixture (n_components)")
        if n_components > self.n_cells:
            raise ValueError(
                f"n_components must be <= the number of cells ({self.n_cells}), found "
                f"{n_components}"
            )
        names = tuple(self.global_priors)
        if mixture_params is None:
            chosen = names
        else:
            chosen = tuple(mixture_params)
            unknown = sorted(set(chosen) - set(names))
            if unknown:
                raise ValueError(
                    f"mixture_params names {unknown}, which model {self.model!r} with "
                    f"parameterization {self.parameterization.name!r} does not have; "
                    f"valid names: {list(names)}"
                )
        self.mixture_params = tuple(n for n in names if n in chosen)
        self.likelihood = make_likelihood(self.model, n_components=n_components)
        self.global_priors[MIXING] = priors.get(MIXING, mixing_prior(n_components))

    def _set_annotation(self, cell_labels, confidence) -> None:
        self.annotation_confidence = float(confidence)
        self.cell_labels = None
        if cell_labels is None:
            return
        if self.n_components is None:
            raise ValueError("cell_labels guide a mixture: they need n_components")
        labels = np.asarray(cell_labels)
        if labels.shape != (self.n_cells,) or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(
                f"cell_labels must be ({self.n_cells},) integers, found {labels.dtype} "
                f"{labels.shape}"
            )
        if labels.min() < -1 or labels.max() >= self.n_components:
            raise ValueError(
                f"cell_labels must lie in [-1, {self.n_components}), found "
                f"[{labels.min()}, {labels.max()}]"
            )
        self.cell_labels = jnp.asarray(labels, jnp.int32)

    @property
    def is_mixture(self) -> bool:
        """Whether this is a K-component mixture."""
        return self.n_components is not None

    @property
    def global_shapes(self) -> dict[str, tuple[int, ...]]:
        """Shape of each global parameter: per gene, except the NB ``p`` / ``phi`` and
        every parameter of the LNM's total (shared); a mixture's component-specific
        globals have a leading axis of K, and its ``mixing_logits`` are ``(K - 1,)``."""
        if self.models_totals:
            return {n: () for n in self.global_priors}
        shared = {"p", "phi"}
        shapes = {}
        for name in self.global_priors:
            if name == MIXING:
                shapes[name] = (self.n_components - 1,)
                continue
            shape = () if name in shared else (self.n_genes,)
            shapes[name] = (self.n_components, *shape) if name in self.mixture_params else shape
        return shapes

    @property
    def per_gene_globals(self) -> tuple[str, ...]:
        """The globals with a gene axis (their last)."""
        if self.models_totals:
            return ()
        return tuple(n for n in self.global_priors if n not in ("p", "phi", MIXING))

    @property
    def models_totals(self) -> bool:
        """Whether the globals are those of each cell's total count (LNM) rather than of
        each gene."""
        return model_spec(self.model).family == "lnm"

    def subset_genes(self, genes: Int[np.ndarray, " kept"]) -> "ScribeModel":
        """This model over some of its genes, per-gene prior parameters subset too.

        A prior whose batch shape is ``(n_genes,)`` has each such parameter taken at
        ``genes``; shared priors and the per-cell (local) ones are kept.

        Parameters
        ----------
        genes
            Distinct gene positions in ``[0, n_genes)`` (``ScribeResults.__getitem__``
            checks them), in the order the subset keeps.

        Returns
        -------
        ScribeModel
            A new model with ``n_genes = len(genes)``; this one is unchanged.
        """
        genes = np.asarray(genes)
        priors = {
            n: subset_prior(n, p, genes, self.n_genes) for n, p in self.global_priors.items()
        }
        # Every prior is passed as an override, so the unconstrained flag is moot.
        return ScribeModel(
            self.model,
            self.parameterization,
            n_cells=self.n_cells,
            n_genes=len(genes),
            priors={**priors, **self.local_priors},
            **self.mixture_settings,
        )

    @property
    def mixture_settings(self) -> dict:
        """The keywords that make a model with these parameters this model's mixture."""
        if not self.is_mixture:
            return {}
        labels = None if self.cell_labels is None else np.asarray(self.cell_labels)
        return dict(
            n_components=self.n_components,
            mixture_params=self.mixture_params,
            cell_labels=labels,
            annotation_confidence=self.annotation_confidence,
        )

    @property
    def local_names(self) -> tuple[str, ...]:
        """Names of the per-cell latents (``z`` first in a VAE)."""
        return ("z",) * (self.decoder is not None) + tuple(self.local_priors)

    def natural(
        self, globals_: Mapping[str, Array], locals_: Mapping[str, Array]
    ) -> dict[str, Array]:
        """Natural parameters (``r``, ``p``, ``gate``, ``p_capture``, ``mu``) by name
        (the capture only when ``locals_`` holds the per-cell latents)."""
        natural = self._global_natural(globals_)
        if self.is_mixture:
            natural = {n: from_component_layout(v) for n, v in natural.items()}
            natural["mixing_weights"] = mixing_weights(globals_[MIXING])
        if self.capture is not None and locals_:
            natural.update(self.capture.to_natural(locals_))
        return natural

    def _global_natural(self, globals_: Mapping[str, Array]) -> dict[str, Array]:
        """The natural parameters of the globals (with ``gate``); for a mixture in the
        2-D ``(K or 1, genes or 1)`` layout of ``to_component_layout``."""
        values = {n: v for n, v in globals_.items() if n != MIXING}
        if self.is_mixture:
            values = to_component_layout(values, self.mixture_params, self.n_components)
        natural = dict(self.parameterization.to_natural(values))
        if "gate" in values:
            natural["gate"] = values["gate"]
        return natural

    def globals_from_natural(self, natural: Mapping[str, Array]) -> dict[str, Array]:
        """The sampled globals (shaped as ``global_shapes``) of natural parameters: the
        inverse of ``natural`` (component-specific values ``(K, ...)``, the weights as
        ``mixing_weights``)."""
        names = [n for n in self.parameterization.natural if n in natural]
        values = {n: natural[n] for n in names}
        if "gate" in natural:
            values["gate"] = natural["gate"]
        if self.is_mixture:
            values = to_component_layout(values, self.mixture_params, self.n_components)
        globals_ = dict(self.parameterization.from_natural(values))
        if "gate" in self.global_priors:
            globals_["gate"] = values["gate"]
        if self.is_mixture:
            globals_[MIXING] = mixing_logits_of(jnp.asarray(natural["mixing_weights"]))
        shapes = self.global_shapes
        return {n: jnp.reshape(jnp.asarray(globals_[n]), s) for n, s in shapes.items()}

    def log_prior(self, globals_: Mapping[str, Array]) -> Float[Array, ""]:
        """``log p(globals)``."""
        return sum(jnp.sum(p.log_prob(globals_[n])) for n, p in self.global_priors.items())

    def local_log_prior(
        self, locals_: Mapping[str, Array], batch: Batch
    ) -> Float[Array, " batch"]:
        """``log p(locals_c)`` for each cell of ``batch`` (a prior with parameters per cell
        is read at the batch's cells)."""
        return sum(
            (
                local_log_prob(prior, locals_[name], batch.cell_index, self.n_cells)
                for name, prior in self.local_priors.items()
            ),
            0.0,
        )

    @property
    def has_per_cell_priors(self) -> bool:
        """Whether a per-cell latent's prior has parameters per cell of the data."""
        return any(p.batch_shape == (self.n_cells,) for p in self.local_priors.values())

    def log_likelihood(
        self,
        globals_: Mapping[str, Array],
        locals_: Mapping[str, Array],
        batch: Batch,
        *,
        by: str = "cell",
    ) -> Float[Array, " batch_or_genes"]:
        """``log p(u_c | globals, locals_c)`` for each cell of the batch, or summed over
        the batch's cells for each gene (``by="gene"``); sparse path. A mixture's is the
        per-cell logsumexp over components (``by="cell"`` only)."""
        if self.is_mixture:
            if by != "cell":
                raise ValueError(
                    "a mixture's log-likelihood is per cell (a cell's genes share its "
                    f"component), found by={by!r}"
                )
            return jax.nn.logsumexp(self.cell_component_log_prob(globals_, locals_, batch), 1)
        return sparse_log_prob_sum(
            self.likelihood,
            self.likelihood_params(globals_, locals_, batch),
            batch.nonzeros,
            n_cells=batch.batch_size,
            n_genes=self.n_genes,
            by=by,
        )

    def cell_component_log_prob(
        self, globals_: Mapping[str, Array], locals_: Mapping[str, Array], batch: Batch
    ) -> Float[Array, "batch components"]:
        """A mixture's ``log w_ck + Σ_g log p_k(u_cg)`` for each cell of the batch and
        component (``w_c`` the cell's weights: π, nudged by its annotation label)."""
        if not self.is_mixture:
            raise ValueError("cell_component_log_prob needs a mixture (n_components)")
        per_component = sparse_component_log_prob_sum(
            self.likelihood,
            self.likelihood_params(globals_, locals_, batch),
            batch.nonzeros,
            n_cells=batch.batch_size,
            n_genes=self.n_genes,
        )
        return per_component.T + self.cell_log_weights(globals_, batch)

    def cell_log_weights(
        self, globals_: Mapping[str, Array], batch: Batch
    ) -> Float[Array, "batch components"]:
        """Each batch cell's log prior weights of the components."""
        labels = None if self.cell_labels is None else self.cell_labels[batch.cell_index]
        log_pi = jnp.log(mixing_weights(globals_[MIXING]))
        return cell_log_weights(log_pi, labels, self.annotation_confidence, batch.batch_size)

    def likelihood_params(
        self, globals_: Mapping[str, Array], locals_: Mapping[str, Array], batch: Batch
    ):
        """The likelihood's parameter pytree for the cells of ``batch``."""
        if self.decoder is not None:
            return self.decoded_params(globals_, locals_, batch)
        if not self.is_mixture:
            natural = self.natural(globals_, locals_)
            names = expected_parameter_names(self.model, mixture=False)
            return build_params(
                self.model,
                {n: natural[n] for n in names},
                n_cells=batch.batch_size,
                n_genes=self.n_genes,
                n_components=None,
            )
        # Component-specific leaves as (K, 1, genes or 1), shared ones (1, 1, genes or 1).
        natural = {n: v[:, None, :] for n, v in self._global_natural(globals_).items()}
        if self.capture is not None:
            natural.update(self.capture.to_natural(locals_))
        natural["mixing_weights"] = mixing_weights(globals_[MIXING])
        names = expected_parameter_names(self.model, mixture=True)
        return build_params(
            self.model,
            {n: natural[n] for n in names},
            n_cells=batch.batch_size,
            n_genes=self.n_genes,
            n_components=self.n_components,
        )

    def log_joint(
        self,
        globals_: Mapping[str, Array],
        locals_: Mapping[str, Array],
        batch: Batch,
        *,
        latent_log_prior: bool = True,
    ) -> Float[Array, ""]:
        """``log p(globals) + (N / B) Σ_c [log p(locals_c) + log p(u_c | ...)]``.

        The per-cell terms of a minibatch of B cells are scaled by N / B, so the value is
        an unbiased estimate of the full-data log-joint. ``latent_log_prior=False``
        leaves out ``log p(z)`` (a VAE whose ELBO uses the KL of ``z`` instead).
        """
        params = self.likelihood_params(globals_, locals_, batch)
        sizes = dict(n_cells=batch.batch_size, n_genes=self.n_genes)
        if self.is_mixture:
            log_weights = self.cell_log_weights(globals_, batch)
            per_cells = sparse_mixture_log_prob_total(
                self.likelihood, params, batch.nonzeros, log_weights=log_weights, **sizes
            )
        else:
            per_cells = sparse_log_prob_total(self.likelihood, params, batch.nonzeros, **sizes)
        if self.local_priors:
            per_cells = per_cells + jnp.sum(self.local_log_prior(locals_, batch))
        if self.latent_prior is not None and latent_log_prior:
            per_cells = per_cells + jnp.sum(self.latent_prior.log_prob(locals_["z"]))
        scale = self.n_cells / batch.batch_size
        return self.log_prior(globals_) + scale * per_cells

    def decoded_params(
        self, globals_: Mapping[str, Array], locals_: Mapping[str, Array], batch: Batch
    ):
        """The VAE likelihood's parameters for the cells of ``batch`` given their ``z``."""
        decoded = self.decoder(locals_["z"], batch)
        if self.models_totals:
            natural = self.parameterization.to_natural(globals_)
            r, p = (jnp.reshape(natural[n], (1, 1)) for n in ("r", "p"))
            total = NBParams(r=r, p=p)
            params = LNMParams(total=total, alr=decoded["alr"])
        else:
            params = NBLogMeanParams(r=globals_["r"][None, :], log_mean=_log_mean(decoded))
        if "gate" in decoded:
            params = ZIParams(base=params, gate=decoded["gate"])
        if self.capture is not None:
            natural = self.capture.to_natural(locals_)
            params = CaptureParams(base=params, capture=natural["p_capture"])
        return params

    def decoded_natural(
        self, globals_: Mapping[str, Array], locals_: Mapping[str, Array], batch: Batch
    ) -> dict[str, Array]:
        """What the VAE says of each cell of ``batch``, by name: the decoder's outputs
        (the mean as ``mu``, also from a decoder that outputs ``log_mu``), the NB ``r``
        broadcast to ``(cells, genes)`` (for lnm / lnmvcp instead the composition ``ρ``
        and the total's shared ``r`` and ``p``), and the capture."""
        decoded = dict(self.decoder(locals_["z"], batch))
        if "log_mu" in decoded:
            decoded["mu"] = jnp.exp(decoded.pop("log_mu"))
        if self.models_totals:
            family = self.likelihood
            family = family.base if isinstance(family, VariableCapture) else family
            decoded["composition"] = jnp.exp(family.log_composition_of_alr(decoded["alr"]))
            natural = self.parameterization.to_natural(globals_)
            decoded.update(r=natural["r"], p=natural["p"])
        else:
            decoded["r"] = jnp.broadcast_to(globals_["r"], decoded["mu"].shape)
        if self.capture is not None:
            decoded.update(self.capture.to_natural(locals_))
        return decoded

    def with_networks(self, networks: "VAENetworks | None") -> "ScribeModel":
        """This model with the decoder and latent prior of ``networks`` (trained copies)."""
        if networks is None:
            return self
        return eqx.tree_at(
            lambda m: (m.decoder, m.latent_prior),
            self,
            (networks.decoder, networks.latent_prior),
            is_leaf=lambda x: x is None,
        )

    @property
    def networks(self) -> "VAENetworks | None":
        """The trainable networks of a VAE (None otherwise)."""
        if self.decoder is None:
            return None
        return VAENetworks(decoder=self.decoder, latent_prior=self.latent_prior)


def _log_mean(decoded: Mapping[str, Array]) -> Array:
    """The NB log-mean from a decoder's outputs: ``log_mu`` as is; a decoder's ``mu``
    through ``log`` (``-inf`` wherever that mean underflowed to 0)."""
    if "log_mu" in decoded:
        return decoded["log_mu"]
    return jnp.log(decoded["mu"])


class VAENetworks(eqx.Module):
    """The generative networks a VAE trains by maximum likelihood: decoder and prior."""

    decoder: AbstractDecoder
    latent_prior: AbstractLatentPrior
