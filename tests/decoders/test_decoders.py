"""Decoders: the LNM's ALR convention and clear errors on bad input.

The range of each output, library-size means and compositions are invariants of every
decoder in the one list (``tests/networks``)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from scribe.decoders import LinearALRDecoder, MLPDecoder

from ..networks.cases import (
    N_GENES,
    N_LATENT,
    eager,
    ids,
    latent,
    lnm_log_composition,
    minibatch,
    of_kind,
)

ALR_DECODERS = of_kind("decoder", lambda decoder: isinstance(decoder, LinearALRDecoder))


@pytest.mark.parametrize("case", ALR_DECODERS, ids=ids(ALR_DECODERS))
def test_alr_is_affine_in_z_and_matches_the_lnm_composition(case):
    decoder, z, out = case.module, np.asarray(eager(case).real["z"]), eager(case).outputs
    weight, bias = np.asarray(decoder.linear.weight), np.asarray(decoder.linear.bias)
    np.testing.assert_allclose(out["alr"], z @ weight.T + bias[None], rtol=1e-12)
    logits = np.insert(out["alr"], decoder.reference_gene, 0.0, axis=1)
    oracle = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(
        lnm_log_composition(decoder.reference_gene, out["alr"]), oracle, rtol=1e-12
    )


@pytest.mark.parametrize("reference", [0, 2, N_GENES - 1])
def test_a_bias_of_log_ratios_decodes_to_that_composition(reference):
    """With W = 0 and b_g = log(ρ_g / ρ_reference), the LNM's composition is ρ itself."""
    rho = np.array([0.05, 0.1, 0.15, 0.2, 0.22, 0.28])
    decoder = LinearALRDecoder(N_LATENT, N_GENES, reference, key=jax.random.key(0))
    bias = np.log(np.delete(rho, reference) / rho[reference])
    decoder = eqx.tree_at(
        lambda d: (d.linear.weight, d.linear.bias),
        decoder,
        (jnp.zeros_like(decoder.linear.weight), jnp.asarray(bias)),
    )
    alr = decoder(latent(decoder, jax.random.key(1)), minibatch())["alr"]
    composition = np.exp(lnm_log_composition(reference, alr))
    np.testing.assert_allclose(composition, np.broadcast_to(rho, composition.shape), rtol=1e-12)


def _mlp(**kwargs):
    return MLPDecoder(**{"n_latent": 2, "n_genes": N_GENES, "key": jax.random.key(0), **kwargs})


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (lambda: _mlp(n_latent=0), ValueError, "n_latent must be at least 1; found 0"),
        (lambda: _mlp(n_genes=True), TypeError, "n_genes must be an int; found bool"),
        (lambda: _mlp(outputs="r"), TypeError, "outputs must be a tuple"),
        (lambda: _mlp(outputs=()), ValueError, "at least one; found ()"),
        (lambda: _mlp(outputs=("r", "p")), ValueError, r"outputs must be distinct names from"),
        (lambda: _mlp(outputs=("r", "r")), ValueError, r"found \('r', 'r'\)"),
        (lambda: _mlp(library_size=1), TypeError, "library_size must be a bool"),
        (lambda: _mlp(library_size=True), ValueError, r"must include 'log_mu' \(or 'mu'\)"),
        (lambda: _mlp(outputs=("log_mu", "mu")), ValueError, "the mean once"),
        (lambda: _mlp(hidden=(0,)), ValueError, r"hidden\[0\] must be at least 1"),
        (lambda: _mlp(activation=jax.nn.relu), ValueError, "activation must be one of"),
        (
            lambda: LinearALRDecoder(2, 1, 0, key=jax.random.key(0)),
            ValueError,
            "n_genes must be at least 2; found 1",
        ),
        (
            lambda: LinearALRDecoder(2, N_GENES, N_GENES, key=jax.random.key(0)),
            ValueError,
            r"reference_gene must be a gene index in \[0, 6\); found 6",
        ),
        (
            lambda: LinearALRDecoder(2, N_GENES, -1, key=jax.random.key(0)),
            ValueError,
            "reference_gene must be at least 0; found -1",
        ),
    ],
)
def test_bad_arguments_are_named(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_a_latent_of_the_wrong_shape_is_rejected():
    decoder = _mlp()
    with pytest.raises(ValueError, match=r"z must have shape \(cells, n_latent\) = \(5, 2\)"):
        decoder(jnp.zeros((5, 3)), minibatch())
    with pytest.raises(ValueError, match="outputs 4 genes; the batch has 6"):
        _mlp(n_genes=4)(jnp.zeros((5, 2)), minibatch())


def test_log_softplus_is_the_float64_log_of_softplus_and_never_infinite():
    from scribe.decoders._mlp_decoder import log_softplus

    x = np.array([-1e4, -800.0, -200.0, -104.0, -31.0, -30.0, -29.0, -1.0, 0.0, 3.0, 80.0])
    found = np.asarray(log_softplus(jnp.asarray(x, jnp.float32)), np.float64)
    # log(log1p(e^x)) in float64, which itself underflows below -745: there it is x.
    oracle = np.where(x < -700, x, np.log(np.logaddexp(0.0, np.maximum(x, -700))))
    np.testing.assert_allclose(found, oracle, rtol=1e-6)
    grads = jax.vmap(jax.grad(log_softplus))(jnp.asarray(x, jnp.float32))
    assert np.all(np.isfinite(grads)) and np.all(np.asarray(grads) > 0)


@pytest.mark.parametrize("library_size", [False, True])
def test_log_means_stay_finite_where_the_means_underflow(library_size):
    """Raw outputs of ±2,000 (what a diverging VAE reached on the mouse cells): the
    means ``softplus`` / ``softmax × total`` underflow to 0, and their log to -inf; the
    decoder's ``log_mu`` stays finite, equal to the float64 log-mean, gradient finite."""
    decoder = _mlp(hidden=(), outputs=("log_mu",), library_size=library_size)
    z = jnp.asarray(np.random.default_rng(0).normal(size=(minibatch().batch_size, 2)))
    weight = jnp.full_like(decoder.net.layers[0].weight, 1000.0)
    weight = weight * jnp.where(jnp.arange(N_GENES) % 2 == 0, 1.0, -1.0)[:, None]
    decoder = eqx.tree_at(lambda d: d.net.layers[0].weight, decoder, weight)
    batch = minibatch()
    log_mu = np.asarray(decoder(z.astype(jnp.float32), batch)["log_mu"], np.float64)
    raw = np.asarray(decoder.net(z.astype(jnp.float32)), np.float64)
    if library_size:
        total = np.asarray(batch.total_counts, np.float64)[:, None]
        shifted = raw - raw.max(axis=1, keepdims=True)
        oracle = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)) + np.log(total)
    else:
        oracle = np.where(raw < -700, raw, np.log(np.logaddexp(0.0, np.maximum(raw, -700))))
    assert np.any(oracle < -200)  # float32 means of these are 0
    assert np.all(np.isfinite(log_mu))
    np.testing.assert_allclose(log_mu, oracle, rtol=1e-5, atol=1e-3)

    def total_log_mean(weight):
        d = eqx.tree_at(lambda m: m.net.layers[0].weight, decoder, weight)
        return d(z.astype(jnp.float32), batch)["log_mu"].sum()

    assert np.all(np.isfinite(jax.grad(total_log_mean)(weight)))
