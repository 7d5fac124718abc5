"""``ScribeModel``: likelihood, parameterization, priors and local latents, one log-joint."""

from collections.abc import Mapping

import equinox as eqx
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
from ..likelihoods._sparse import sparse_log_prob_sum, sparse_log_prob_total
from ..parameterizations import AbstractParameterization, default_prior, get_capture
from ._checks import check_vae
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
        known = set(self.global_priors) | set(self.local_priors)
        unknown = sorted(set(priors) - known)
        if unknown:
            raise ValueError(
                f"priors names {unknown}, which model {model!r} with parameterization "
                f"{parameterization.name!r} does not have; valid names: {sorted(known)}"
            )

    @property
    def global_shapes(self) -> dict[str, tuple[int, ...]]:
        """Shape of each global parameter: per gene, except the NB ``p`` / ``phi`` and
        every parameter of the LNM's total (shared)."""
        if self.models_totals:
            return {n: () for n in self.global_priors}
        shared = {"p", "phi"}
        return {n: (() if n in shared else (self.n_genes,)) for n in self.global_priors}

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
        natural = dict(self.parameterization.to_natural(globals_))
        if "gate" in globals_:
            natural["gate"] = globals_["gate"]
        if self.capture is not None and locals_:
            natural.update(self.capture.to_natural(locals_))
        return natural

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
        the batch's cells for each gene (``by="gene"``); sparse path."""
        return sparse_log_prob_sum(
            self.likelihood,
            self.likelihood_params(globals_, locals_, batch),
            batch.nonzeros,
            n_cells=batch.batch_size,
            n_genes=self.n_genes,
            by=by,
        )

    def likelihood_params(
        self, globals_: Mapping[str, Array], locals_: Mapping[str, Array], batch: Batch
    ):
        """The likelihood's parameter pytree for the cells of ``batch``."""
        if self.decoder is not None:
            return self.decoded_params(globals_, locals_, batch)
        natural = self.natural(globals_, locals_)
        return build_params(
            self.model,
            {n: natural[n] for n in expected_parameter_names(self.model, mixture=False)},
            n_cells=batch.batch_size,
            n_genes=self.n_genes,
            n_components=None,
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
        per_cells = sparse_log_prob_total(
            self.likelihood,
            self.likelihood_params(globals_, locals_, batch),
            batch.nonzeros,
            n_cells=batch.batch_size,
            n_genes=self.n_genes,
        )
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
