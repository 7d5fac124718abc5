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
from ._datasets import DatasetHierarchy
from ._decoded import decoded_natural, decoded_params
from ._hierarchy import GeneHierarchy
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
from ._structure import build_hierarchies, cell_codes, chosen_globals


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
    hierarchies
        Target -> kind (``{"p": "horseshoe", "gate": "normal"}``): each target global
        (``p``, ``phi``, ``gate``) becomes gene-specific around a learned population
        value (``scribe.model.GeneHierarchy``; shared by a mixture's components).
    cell_datasets, dataset_params
        Multi-dataset fit: each cell's dataset (``0 .. D-1``, ``D >= 2``) and the globals
        with one copy per dataset (None: every global but the hierarchies'), each with a
        leading axis of ``D`` under the dataset-level prior of
        ``scribe.model.DatasetHierarchy``; a cell's likelihood uses its dataset's copy.
        Not with a mixture or a decoder.
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
    hierarchies: tuple[GeneHierarchy, ...]
    datasets: DatasetHierarchy | None
    cell_datasets: Int[Array, " cells"] | None

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
        hierarchies: Mapping[str, str] | None = None,
        cell_datasets: Int[np.ndarray, " cells"] | None = None,
        dataset_params: Collection[str] | None = None,
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
        self._set_hierarchies(hierarchies, priors)
        self._set_mixture(n_components, mixture_params, priors)
        self._set_annotation(cell_labels, annotation_confidence)
        self._set_datasets(cell_datasets, dataset_params, priors)
        known = set(self.global_priors) | set(self.local_priors)
        unknown = sorted(set(priors) - known)
        if unknown:
            raise ValueError(
                f"priors names {unknown}, which model {model!r} with parameterization "
                f"{parameterization.name!r} does not have; valid names: {sorted(known)}"
            )

    @property
    def _description(self) -> str:
        """The model, for errors: ``model 'nbdm' with parameterization 'canonical'``."""
        vae = " and a decoder" if self.decoder is not None else ""
        return f"model {self.model!r} with parameterization {self.parameterization.name!r}{vae}"

    def _set_hierarchies(self, hierarchies, priors) -> None:
        if hierarchies and self.decoder is not None:
            raise ValueError(
                f"a hierarchical prior on {sorted(hierarchies)}, which {self._description} "
                "does not sample; valid targets: []"
            )
        self.hierarchies = build_hierarchies(
            hierarchies, self.global_priors, priors, self.n_genes, self._description
        )

    def _set_datasets(self, cell_datasets, dataset_params, priors) -> None:
        self.datasets = self.cell_datasets = None
        if cell_datasets is None:
            if dataset_params is not None:
                raise ValueError("dataset_params needs each cell's dataset (dataset_key)")
            return
        if self.is_mixture or self.decoder is not None:
            raise ValueError(
                "a multi-dataset fit (dataset_key) cannot also be a "
                f"{'mixture (n_components)' if self.is_mixture else 'VAE (decoder)'}"
            )
        codes = cell_codes("cell_datasets", cell_datasets, self.n_cells, 0, None)
        n_datasets = int(codes.max()) + 1
        if n_datasets < 2:
            raise ValueError("a multi-dataset fit needs at least 2 datasets, found 1")
        names = tuple(n for n in self.global_priors if n not in self.hierarchical_names)
        model = f"{self._description} (besides its hierarchies' globals)"
        chosen = chosen_globals("dataset_params", dataset_params, names, model)
        self.datasets = DatasetHierarchy(chosen, n_datasets)
        self.global_priors.update(self.datasets.priors(priors))
        self.cell_datasets = jnp.asarray(codes, jnp.int32)

    @property
    def _grouping(self) -> tuple[tuple[str, ...], int] | None:
        """The globals with a leading group axis and its length: a mixture's components
        or a multi-dataset fit's datasets (None: neither)."""
        if self.is_mixture:
            return self.mixture_params, self.n_components
        if self.datasets is not None:
            return self.dataset_params, self.n_datasets
        return None

    @property
    def n_datasets(self) -> int | None:
        """The number of datasets of a multi-dataset fit (None otherwise)."""
        return None if self.datasets is None else self.datasets.n_datasets

    @property
    def dataset_params(self) -> tuple[str, ...]:
        """The globals with one copy per dataset."""
        return () if self.datasets is None else self.datasets.names

    @property
    def _hierarchy_shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of every global the hierarchies sample."""
        return {n: s for h in self.hierarchies for n, s in h.shapes.items()}

    @property
    def hierarchical_names(self) -> tuple[str, ...]:
        """The globals the hierarchies sample."""
        return tuple(n for h in self.hierarchies for n in h.names)

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
        shared = sorted(set(mixture_params or ()) & {h.target for h in self.hierarchies})
        if shared:
            raise ValueError(
                f"mixture_params names {shared}, which have a hierarchical prior: its "
                "gene-specific values are shared by the components"
            )
        names = tuple(n for n in self.global_priors if n not in self.hierarchical_names)
        self.mixture_params = chosen_globals(
            "mixture_params", mixture_params, names, self._description
        )
        self.likelihood = make_likelihood(self.model, n_components=n_components)
        self.global_priors[MIXING] = priors.get(MIXING, mixing_prior(n_components))

    def _set_annotation(self, cell_labels, confidence) -> None:
        self.annotation_confidence = float(confidence)
        self.cell_labels = None
        if cell_labels is None:
            return
        if self.n_components is None:
            raise ValueError("cell_labels guide a mixture: they need n_components")
        labels = cell_codes("cell_labels", cell_labels, self.n_cells, -1, self.n_components)
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
        hierarchical = self._hierarchy_shapes
        for name in self.global_priors:
            if name in hierarchical:
                shapes[name] = hierarchical[name]
                continue
            if name == MIXING:
                shapes[name] = (self.n_components - 1,)
                continue
            if name.endswith("_dataset_scale"):
                shapes[name] = ()
                continue
            if name.endswith("_dataset_loc"):
                name, loc = name.removesuffix("_dataset_loc"), name
                shapes[loc] = () if name in shared else (self.n_genes,)
                continue
            shape = () if name in shared else (self.n_genes,)
            if name in self.mixture_params:
                shape = (self.n_components, *shape)
            elif name in self.dataset_params:
                shape = (self.n_datasets, *shape)
            shapes[name] = shape
        return shapes

    @property
    def per_gene_globals(self) -> tuple[str, ...]:
        """The globals with a gene axis (their last)."""
        if self.models_totals:
            return ()
        hierarchical = self._hierarchy_shapes

        def per_gene(name: str) -> bool:
            if name in hierarchical:
                return hierarchical[name] != ()
            if name == MIXING or name.endswith("_dataset_scale"):
                return False
            return name.removesuffix("_dataset_loc") not in ("p", "phi")

        return tuple(n for n in self.global_priors if per_gene(n))

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
            hierarchies=self.hierarchy_kinds,
            **self.mixture_settings,
            **self.dataset_settings,
        )

    @property
    def dataset_settings(self) -> dict:
        """The keywords that make a model with these parameters this multi-dataset one."""
        if self.datasets is None:
            return {}
        return dict(
            cell_datasets=np.asarray(self.cell_datasets), dataset_params=self.dataset_params
        )

    @property
    def hierarchy_kinds(self) -> dict[str, str]:
        """Each hierarchical target's kind (the ``hierarchies`` this model was built with)."""
        return {h.target: h.kind for h in self.hierarchies}

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
        if self._grouping is not None:
            natural = {n: from_component_layout(v) for n, v in natural.items()}
        if self.is_mixture:
            natural["mixing_weights"] = mixing_weights(globals_[MIXING])
        if self.capture is not None and locals_:
            natural.update(self.capture.to_natural(locals_))
        return natural

    def _global_natural(self, globals_: Mapping[str, Array]) -> dict[str, Array]:
        """The natural parameters of the globals (with ``gate``); for a mixture or a
        multi-dataset fit in the 2-D ``(K or D or 1, genes or 1)`` layout of
        ``to_component_layout``."""
        hidden = {MIXING, *self.hierarchical_names}
        if self.datasets is not None:
            hidden.update(self.datasets.hyper_names)
        values = {n: v for n, v in globals_.items() if n not in hidden}
        values.update({h.target: h.value(globals_) for h in self.hierarchies})
        if self._grouping is not None:
            values = to_component_layout(values, *self._grouping)
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
        shapes = self.global_shapes
        if self._grouping is not None:
            # Values with the group axis go in as such; one value for every group is shared.
            names, size = self._grouping
            grouped = [n for n in names if n in values and jnp.ndim(values[n]) == len(shapes[n])]
            values = to_component_layout(values, grouped, size)
        globals_ = dict(self.parameterization.from_natural(values))
        if "gate" in values:
            globals_["gate"] = values["gate"]
        for hierarchy in self.hierarchies:
            value = jnp.asarray(globals_.pop(hierarchy.target))
            globals_.update(
                hierarchy.from_value(value.reshape(-1) if value.size > 1 else value.reshape(()))
            )
        if self.is_mixture:
            globals_[MIXING] = mixing_logits_of(jnp.asarray(natural["mixing_weights"]))
        if self.datasets is not None:
            globals_.update(self.datasets.from_values(globals_, shapes))
        return {n: jnp.reshape(jnp.asarray(globals_[n]), s) for n, s in shapes.items()}

    def log_prior(self, globals_: Mapping[str, Array]) -> Float[Array, ""]:
        """``log p(globals)`` (per-dataset copies under their dataset-level prior)."""
        copies = self.dataset_params
        total = sum(
            jnp.sum(p.log_prob(globals_[n]))
            for n, p in self.global_priors.items()
            if n not in copies
        )
        if self.datasets is not None:
            total = total + self.datasets.log_prob(globals_)
        return total

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
        if self.datasets is not None:
            # Each cell's dataset's copy: (cells, genes or 1) leaves; shared ones (1, ·).
            datasets = self.cell_datasets[batch.cell_index]
            natural = {
                n: v[datasets] if v.shape[0] > 1 else v
                for n, v in self._global_natural(globals_).items()
            }
            if self.capture is not None:
                natural.update(self.capture.to_natural(locals_))
        if not self.is_mixture:
            if self.datasets is None:
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
        return decoded_params(self, globals_, locals_, batch)

    def decoded_natural(
        self, globals_: Mapping[str, Array], locals_: Mapping[str, Array], batch: Batch
    ) -> dict[str, Array]:
        """What the VAE says of each cell of ``batch``, by name: the decoder's outputs
        (the mean as ``mu``, also from a decoder that outputs ``log_mu``), the NB ``r``
        broadcast to ``(cells, genes)`` (for lnm / lnmvcp instead the composition ``ρ``
        and the total's shared ``r`` and ``p``), and the capture."""
        return decoded_natural(self, globals_, locals_, batch)

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


class VAENetworks(eqx.Module):
    """The generative networks a VAE trains by maximum likelihood: decoder and prior."""

    decoder: AbstractDecoder
    latent_prior: AbstractLatentPrior
