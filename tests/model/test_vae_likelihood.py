"""A VAE's likelihood is composed where every model's is: ``make_likelihood`` of the
model name, on the decoded base family."""

import numpy as np
import pytest

from scribe.build import make_model, make_vae_networks
from scribe.config import FitConfig, ModelConfig
from scribe.data import load_counts
from scribe.likelihoods import (
    LogisticNormalMultinomial,
    NegativeBinomialLogMean,
    VariableCapture,
    ZeroInflated,
    make_likelihood,
)


@pytest.mark.parametrize("name", ["nbdm", "zinb", "nbvcp", "zinbvcp", "lnm", "lnmvcp"])
def test_a_vae_likelihood_is_make_likelihood_of_its_decoded_family(name):
    counts = load_counts(np.random.default_rng(0).poisson(2.0, (30, 6)) + 1)
    config = FitConfig(model=ModelConfig(model=name), inference_method="vae", latent_dim=2)
    _, networks = make_vae_networks(config, counts)
    likelihood = make_model(config, counts, networks=networks).likelihood
    if name.startswith("lnm"):
        reference = networks.decoder.reference_gene
        expected = make_likelihood(name, reference_gene=reference)
        base = LogisticNormalMultinomial(reference_gene=reference)
    else:
        expected = make_likelihood(name, family="nb_log_mean")
        base = NegativeBinomialLogMean()
    assert likelihood == expected
    # what the name spells, written out
    if "zi" in name:
        base = ZeroInflated(base)
    if name.endswith("vcp"):
        base = VariableCapture(base)
    assert likelihood == base


def test_an_unknown_family_is_refused():
    with pytest.raises(ValueError, match="family must be one of"):
        make_likelihood("nbdm", family="gaussian")
