"""A VAE's networks: the encoder, the decoder and the prior of ``z``."""

import jax

from ..config import FitConfig
from ..data import CountData
from ..decoders import AbstractDecoder, LinearALRDecoder, MLPDecoder
from ..encoders import AbstractEncoder, MLPEncoder
from ..latent_priors import make_latent_prior
from ..model import VAENetworks
from ..parameterizations import get_capture, get_parameterization
from ._initial import reference_gene as choose_reference_gene


def make_vae_networks(
    config: FitConfig,
    counts: CountData,
    *,
    encoder: AbstractEncoder | None = None,
    decoder: AbstractDecoder | None = None,
    reference_gene: int | None = None,
) -> tuple[AbstractEncoder, VAENetworks]:
    """The VAE's encoder and its generative networks, from fresh keys of ``config.seed``.

    Parameters
    ----------
    config
        A VAE fit's config (``latent_dim``, ``vae.prior``, ``vae.library_size``).
    counts
        The data: the default encoder standardizes its inputs with it, and the LNM's
        default reference gene is chosen from it.
    encoder, decoder
        The user's modules; None builds scribe's defaults: an ``MLPEncoder`` (with
        each cell's library as an input and, with capture, the capture latent), and an
        ``MLPDecoder`` of each gene's log NB mean (and gate, for ZI models) or, for
        lnm / lnmvcp, a ``LinearALRDecoder`` against ``reference_gene``.
    reference_gene
        The LNM decoder's ALR reference; None: chosen from ``counts``
        (``scribe.build.reference_gene``).

    Returns
    -------
    encoder, networks
        The encoder, and the decoder with the latent prior.
    """
    key_encoder, key_decoder, key_prior = jax.random.split(jax.random.key(config.seed + 2), 3)
    model, latent_dim = config.model, config.latent_dim
    if encoder is None:
        capture = get_capture(get_parameterization(model.parameterization))
        encoder = MLPEncoder.from_data(
            counts,
            latent_dim,
            key=key_encoder,
            include_library=True,
            capture_names=capture.sampled if model.variable_capture else (),
        )
    if decoder is None and model.family == "lnm":
        if reference_gene is None:
            reference_gene = choose_reference_gene(counts)
        decoder = LinearALRDecoder(latent_dim, counts.n_genes, reference_gene, key=key_decoder)
    elif decoder is None:
        decoder = MLPDecoder(
            latent_dim,
            counts.n_genes,
            key=key_decoder,
            # the log of the mean: exp(softplus) would overflow, softplus underflow
            outputs=("log_mu", "gate") if model.zero_inflated else ("log_mu",),
            library_size=config.vae.library_size,
        )
    prior = make_latent_prior(config.vae.prior, latent_dim, key=key_prior)
    return encoder, VAENetworks(decoder=decoder, latent_prior=prior)
