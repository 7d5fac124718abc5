"""Checks of the modules a VAE model is built from."""

from ..decoders import AbstractDecoder
from ..latent_priors import AbstractLatentPrior
from ..likelihoods._models import ModelSpec


def check_vae(spec: ModelSpec, decoder, latent_prior, n_genes: int) -> None:
    """The decoder and latent prior fit each other, the data and the model's outputs."""
    if not isinstance(decoder, AbstractDecoder):
        raise TypeError(
            f"decoder must implement scribe.decoders.AbstractDecoder, found "
            f"{type(decoder).__name__}"
        )
    if not isinstance(latent_prior, AbstractLatentPrior):
        raise TypeError(
            f"latent_prior must implement scribe.latent_priors.AbstractLatentPrior, found "
            f"{type(latent_prior).__name__}"
        )
    if decoder.n_genes != n_genes:
        raise ValueError(f"decoder decodes {decoder.n_genes} genes; the data has {n_genes}")
    if latent_prior.latent_dim != decoder.n_latent:
        raise ValueError(
            f"latent_prior is over {latent_prior.latent_dim} dimensions; the decoder reads "
            f"{decoder.n_latent}"
        )
    if spec.family == "lnm":
        needed = {"alr"}
        reference = getattr(decoder, "reference_gene", None)
        if isinstance(reference, bool) or not isinstance(reference, int):
            raise TypeError(
                f"decoder {type(decoder).__name__} outputs ALR coordinates and must say their "
                f"reference gene in an int attribute reference_gene, found {reference!r}"
            )
        if not 0 <= reference < n_genes:
            raise ValueError(
                f"decoder.reference_gene must be a gene index in [0, {n_genes}), found {reference}"
            )
    else:
        # The mean as its log ("log_mu") or, from an older decoder, as itself ("mu").
        mean = "mu" if "mu" in decoder.outputs and "log_mu" not in decoder.outputs else "log_mu"
        needed = {mean} | ({"gate"} if spec.zero_inflated else set())
    if set(decoder.outputs) != needed:
        raise ValueError(
            f"the decoder must output exactly {sorted(needed)} for this model (the mean as "
            f"'log_mu', or as 'mu'), found {sorted(decoder.outputs)}"
        )
