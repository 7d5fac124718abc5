"""The mixture's one log-joint: values against the original SCRIBE's reference file and a
scipy oracle, gradients against the dense formula, annotation weights against MATH.md."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special
import scipy.stats

from scribe.data import load_counts
from scribe.model import ScribeModel
from scribe.model._mixture import mixing_logits, mixing_weights
from scribe.parameterizations import Canonical

GOLDEN = np.load(Path(__file__).parents[1] / "_golden" / "reference_log_likelihood_golden.npz")
TOLERANCE = dict(atol=1e-4, rtol=1e-6)  # as tests/test_golden_log_likelihood.py


def _params(model):
    head = f"params_{model}_mix__"
    return {k[len(head) :]: GOLDEN[k] for k in GOLDEN.files if k.startswith(head)}


def _model_and_values(model, **kwargs):
    params = _params(model)
    counts = GOLDEN["counts"]
    scribe_model = ScribeModel(
        model,
        Canonical(),
        n_cells=counts.shape[0],
        n_genes=counts.shape[1],
        n_components=3,
        **kwargs,
    )
    globals_ = scribe_model.globals_from_natural(params)
    locals_ = {"p_capture": jnp.asarray(params["p_capture"])} if "p_capture" in params else {}
    batch = load_counts(counts).to_device().full_batch()
    return scribe_model, globals_, locals_, batch, params


def _oracle(counts, params, log_weights):
    """log π_ck + Σ_g log NB(u_cg) per cell and component, by scipy."""
    k = params["r"].shape[0]
    per = np.zeros((counts.shape[0], k))
    for j in range(k):
        p = params["p"][j]
        if "p_capture" in params:
            nu = params["p_capture"][:, None]
            p = p * nu / (1 - p * (1 - nu))
        logpmf = scipy.stats.nbinom.logpmf(counts, params["r"][j][None], 1 - p)
        if "gate" in params:
            gate = params["gate"][j][None]
            logpmf = np.where(
                counts == 0, np.log(gate + (1 - gate) * np.exp(logpmf)), np.log1p(-gate) + logpmf
            )
        per[:, j] = logpmf.sum(axis=1)
    return per + log_weights


@pytest.mark.parametrize("model", ["nbdm", "zinb", "nbvcp", "zinbvcp"])
def test_mixture_log_likelihood_matches_the_reference_and_scipy(model):
    scribe_model, globals_, locals_, batch, params = _model_and_values(model)
    split = scribe_model.cell_component_log_prob(globals_, locals_, batch)
    np.testing.assert_allclose(split, GOLDEN[f"{model}_mix__rb-cell__sc-1__w-none"], **TOLERANCE)
    per_cell = scribe_model.log_likelihood(globals_, locals_, batch)
    np.testing.assert_allclose(
        per_cell, GOLDEN[f"{model}_mix__rb-cell__sc-0__w-none"], **TOLERANCE
    )
    oracle = _oracle(GOLDEN["counts"], params, np.log(params["mixing_weights"]))
    np.testing.assert_allclose(per_cell, scipy.special.logsumexp(oracle, axis=1), rtol=1e-5)


@pytest.mark.parametrize("model", ["nbvcp", "zinb"])
def test_log_joint_value_and_gradient_match_the_dense_mixture(model):
    labels = np.full(50, -1)
    labels[:10] = np.arange(10) % 3
    scribe_model, globals_, locals_, batch, params = _model_and_values(
        model, cell_labels=labels, annotation_confidence=2.0
    )
    counts = jnp.asarray(GOLDEN["counts"], jnp.float32)

    def dense(globals_):
        # log_prior + Σ_c log p(locals_c) + Σ_c logsumexp_k(log w_ck + Σ_g log p_k(u_cg)).
        tree = scribe_model.likelihood_params(globals_, locals_, batch)
        per_component = scribe_model.likelihood.component_log_prob(counts, tree).sum(-1)
        joint = per_component.T + scribe_model.cell_log_weights(globals_, batch)
        value = jax.nn.logsumexp(joint, axis=1).sum() + scribe_model.log_prior(globals_)
        return value + jnp.sum(scribe_model.local_log_prior(locals_, batch))

    def sparse(globals_):
        return scribe_model.log_joint(globals_, locals_, batch)

    np.testing.assert_allclose(sparse(globals_), dense(globals_), rtol=1e-5)
    grads_sparse, grads_dense = jax.grad(sparse)(globals_), jax.grad(dense)(globals_)
    for name in globals_:
        np.testing.assert_allclose(grads_sparse[name], grads_dense[name], rtol=2e-4, atol=2e-3)


def test_annotation_nudges_labelled_cells_as_math_md_writes():
    labels = np.full(50, -1)
    labels[[0, 1, 2]] = [0, 2, 1]
    scribe_model, globals_, _, batch, params = _model_and_values(
        "nbdm", cell_labels=labels, annotation_confidence=3.0
    )
    log_w = np.asarray(scribe_model.cell_log_weights(globals_, batch))
    log_pi = np.log(params["mixing_weights"])
    for cell, label in zip([0, 1, 2], [0, 2, 1], strict=True):
        nudged = log_pi + 3.0 * (np.arange(3) == label)
        np.testing.assert_allclose(
            log_w[cell], nudged - scipy.special.logsumexp(nudged), rtol=1e-5
        )
    np.testing.assert_allclose(log_w[3:], np.broadcast_to(log_pi, (47, 3)), rtol=1e-5)


def test_mixing_prior_is_dirichlet_one_on_the_weights():
    # Monte Carlo: the weights of prior draws of the logits have Dirichlet(1, 1, 1, 1)'s
    # mean 1/4 and variance (1/4)(3/4)/5.
    scribe_model = ScribeModel("nbdm", Canonical(), n_cells=10, n_genes=3, n_components=4)
    prior = scribe_model.global_priors["mixing_logits"]
    keys = jax.random.split(jax.random.key(0), 40_000)
    draws = jax.vmap(lambda k: prior.sample(k))(keys)
    weights = np.asarray(mixing_weights(jnp.asarray(draws)))
    assert np.allclose(weights.mean(0), 0.25, atol=0.01)
    assert np.allclose(weights.var(0), 0.25 * 0.75 / 5, rtol=0.05)
    # the density of the logits is Dirichlet(1)'s constant 3! = 6 times the Jacobian
    logits = mixing_logits(jnp.array([0.1, 0.2, 0.3, 0.4]))
    assert np.isfinite(float(prior.log_prob(logits)))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(n_components=1), "n_components must be >= 2"),
        (dict(n_components=11), "n_components must be <= the number of cells"),
        (dict(n_components=2, mixture_params=("mu",)), "mixture_params names \\['mu'\\]"),
        (dict(mixture_params=("r",)), "mixture_params needs n_components"),
        (dict(n_components=2, cell_labels=np.full(10, 2)), "cell_labels must lie in"),
    ],
)
def test_bad_mixture_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ScribeModel("nbdm", Canonical(), n_cells=10, n_genes=3, **kwargs)
