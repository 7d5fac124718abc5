"""``scribe.fit``: recovery on simulated data, determinism, exact resume, bad input."""

import numpy as np
import numpyro.distributions as dist
import pytest

import scribe

N_CELLS, N_GENES = 600, 30


@pytest.fixture(scope="module")
def truth():
    rng = np.random.default_rng(0)
    r = rng.uniform(0.5, 4.0, N_GENES)
    p = 0.6
    nu = rng.uniform(0.3, 0.9, N_CELLS)
    p_hat = p * nu[:, None] / (1 - p * (1 - nu[:, None]))
    return {
        "r": r,
        "p": p,
        "nu": nu,
        "counts_nbdm": rng.negative_binomial(r[None], 1 - p, size=(N_CELLS, N_GENES)),
        "counts_nbvcp": rng.negative_binomial(r[None], 1 - p_hat),
    }


def test_nbdm_recovers_gene_means(truth):
    """μ_g = r_g p / (1 - p) is what the counts pin down fastest.

    Tolerance: 4 standard errors of a gene's sample mean (sd_g / sqrt(cells), the
    sampling noise of the data itself) plus 3% for an optimisation of 1,500 steps.
    """
    results = scribe.fit(
        truth["counts_nbdm"],
        model="nbdm",
        parameterization="mean_odds",
        n_steps=1500,
        learning_rate=0.05,
        progress=False,
    )
    mu = np.asarray(results.get_map()["mu"])
    true_mu = truth["r"] * truth["p"] / (1 - truth["p"])
    standard_error = np.sqrt(true_mu / (1 - truth["p"]) / N_CELLS)
    assert np.all(np.abs(mu - true_mu) < 4 * standard_error + 0.03 * true_mu)


def test_nbvcp_minibatch_recovers_compositions(truth):
    """With capture only odds(p)·ν is identified; compositions μ_g / Σμ are not affected."""
    results = scribe.fit(
        truth["counts_nbvcp"],
        model="nbvcp",
        n_steps=1500,
        batch_size=200,
        learning_rate=0.05,
        progress=False,
    )
    mu = np.asarray(results.get_map()["mu"])
    true_mu = truth["r"] * truth["p"] / (1 - truth["p"])
    np.testing.assert_allclose(mu / mu.sum(), true_mu / true_mu.sum(), rtol=0.15)
    assert results.skipped_steps == 0


def test_same_seed_gives_identical_results(truth):
    kwargs = dict(model="nbvcp", n_steps=60, batch_size=100, progress=False, seed=3)
    a = scribe.fit(truth["counts_nbvcp"], **kwargs)
    b = scribe.fit(truth["counts_nbvcp"], **kwargs)
    np.testing.assert_array_equal(a.loss_history, b.loss_history)
    for name, value in a.get_map().items():
        np.testing.assert_array_equal(value, b.get_map()[name])
    c = scribe.fit(truth["counts_nbvcp"], **dict(kwargs, seed=4))
    assert not np.array_equal(a.loss_history, c.loss_history)


def test_resume_is_bit_exact_with_minibatches(truth, tmp_path):
    kwargs = dict(model="zinbvcp", batch_size=100, progress=False, checkpoint_every=20, seed=5)
    straight = scribe.fit(truth["counts_nbvcp"], n_steps=80, **kwargs)
    scribe.fit(truth["counts_nbvcp"], n_steps=40, checkpoint_dir=tmp_path, **kwargs)
    resumed = scribe.fit(truth["counts_nbvcp"], n_steps=80, checkpoint_dir=tmp_path, **kwargs)
    assert resumed.loss_history.shape == (80,)
    np.testing.assert_array_equal(resumed.loss_history, straight.loss_history)
    for name, value in straight.get_map().items():
        np.testing.assert_array_equal(resumed.get_map()[name], value)


def test_checkpoint_of_other_data_is_refused(truth, tmp_path):
    kwargs = dict(model="nbdm", progress=False, checkpoint_every=10, checkpoint_dir=tmp_path)
    scribe.fit(truth["counts_nbdm"], n_steps=10, **kwargs)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(ValueError, match="gene_names|n_cells"):
        scribe.fit(truth["counts_nbdm"][:, :-1], n_steps=20, **kwargs)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


BAD = [
    ({"model": "nbxx"}, ValueError, r"model must be one of"),
    ({"model": 3}, TypeError, r"model must be a str"),
    ({"parameterization": "weird"}, ValueError, r"weird"),
    (
        {"parameterization": "two_state_ratio"},
        ValueError,
        r"'two_state_ratio' does not apply to model 'nbvcp'",
    ),
    ({"n_steps": 0}, ValueError, r"n_steps must be >= 1, found 0"),
    ({"n_steps": -5}, ValueError, r"n_steps must be >= 1, found -5"),
    ({"n_steps": 10.5}, TypeError, r"n_steps must be an int"),
    ({"batch_size": 10_000}, ValueError, r"batch_size must be <= the number of cells \(600\)"),
    ({"batch_size": 0}, ValueError, r"batch_size must be >= 1"),
    ({"learning_rate": 0.0}, ValueError, r"learning_rate must be > 0"),
    ({"learning_rate": -1e-3}, ValueError, r"learning_rate must be > 0"),
    ({"inference_method": "laplace"}, ValueError, r"inference_method must be one of"),
    ({"inference_method": "mcmc", "n_chains": 0}, ValueError, r"n_chains must be >= 1"),
    (
        {"model": "nbdm", "svi": lambda: scribe.SviConfig(amortize_capture=True)},
        ValueError,
        r"amortize_capture=True needs",
    ),
    (
        {"svi": lambda: scribe.SviConfig(joint_params=["mu", "phi"])},
        ValueError,
        r"needs guide_rank",
    ),
    ({"guide_rank": 0}, ValueError, r"guide_rank must be >= 1"),
    (
        {"guide_rank": 2, "svi": lambda: scribe.SviConfig(joint_params=["r"])},
        ValueError,
        r"at least 2",
    ),
    (
        {"guide_rank": 2, "svi": lambda: scribe.SviConfig(joint_params=["r", "zz"])},
        ValueError,
        r"joint_params names \['zz'\]",
    ),
    ({"svi": {"joint_params": ["r", "p"]}}, TypeError, r"svi must be a scribe.SviConfig"),
    ({"mcmc": scribe.McmcConfig}, ValueError, r"configures inference_method 'mcmc'"),
    ({"vae": scribe.VaeConfig}, ValueError, r"configures inference_method 'vae'"),
    ({"joint_params": ["r", "p"]}, TypeError, r"svi=scribe.SviConfig\(joint_params="),
    ({"early_stopping_patience": 9}, TypeError, r"svi=scribe.SviConfig\(early_stopping_"),
    ({"library_size": True}, TypeError, r"vae=scribe.VaeConfig\(library_size=True\)"),
    ({"dense_mass": True}, TypeError, r"mcmc=scribe.McmcConfig\(dense_mass=True\)"),
    ({"model_config": None}, TypeError, r"no longer takes model_config"),
    ({"n_stepz": 3}, TypeError, r"unexpected keyword argument 'n_stepz'"),
    ({"model": "nbdm", "priors": {"gate": dist.Beta(1.0, 2.0)}}, ValueError, r"priors names"),
    ({"priors": {"r": 3.0}}, TypeError, r"priors\['r'\] must be a numpyro Distribution"),
    ({"zero_inflation": "yes"}, TypeError, r"zero_inflation must be True, False or None"),
    ({"unconstrained": 1}, TypeError, r"unconstrained must be True or False"),
    ({"seed": -1}, ValueError, r"seed must be >= 0"),
    ({"checkpoint_every": 0}, ValueError, r"checkpoint_every must be >= 1"),
    ({"progress": "no"}, TypeError, r"progress must be True or False"),
    ({"model": "twostate"}, ValueError, r"'twostate' is fitted by MCMC only"),
    ({"model": "pln"}, NotImplementedError, r"cannot be fitted yet"),
]


@pytest.mark.parametrize("kwargs, error, match", BAD, ids=[str(b[0]) for b in BAD])
def test_bad_arguments_fail_before_tracing(truth, kwargs, error, match):
    with pytest.raises(error, match=match):
        # A config is built here: a bad one is refused by its own constructor.
        kwargs = {k: v() if callable(v) else v for k, v in kwargs.items()}
        kwargs = {"n_steps": 5, "progress": False, **kwargs}
        scribe.fit(truth["counts_nbdm"], **kwargs)


def test_existing_checkpoints_without_resume_are_kept(truth, tmp_path):
    kwargs = dict(model="nbdm", progress=False, checkpoint_every=10, checkpoint_dir=tmp_path)
    scribe.fit(truth["counts_nbdm"], n_steps=10, **kwargs)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    with pytest.raises(ValueError, match=r"already holds checkpoints \(steps \[10\]\)"):
        scribe.fit(truth["counts_nbdm"], n_steps=20, resume=False, **kwargs)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before


def test_checkpoint_dir_that_is_a_file(truth, tmp_path):
    path = tmp_path / "a_file"
    path.write_text("keep me")
    with pytest.raises(ValueError, match="checkpoint_dir must be a directory, found a file"):
        scribe.fit(truth["counts_nbdm"], n_steps=5, checkpoint_dir=path, progress=False)
    assert path.read_text() == "keep me"


def test_flags_modify_the_model(truth):
    results = scribe.fit(
        truth["counts_nbdm"], model="nbdm", zero_inflation=True, n_steps=5, progress=False
    )
    assert results.config.model.model == "zinb" and "gate" in results.get_map()
    results = scribe.fit(
        truth["counts_nbdm"], model="zinbvcp", variable_capture=False, n_steps=5, progress=False
    )
    assert results.config.model.model == "zinb"
    results = scribe.fit(
        truth["counts_nbdm"], model="nbdm", parameterization="linked", n_steps=5, progress=False
    )
    assert results.config.model.parameterization == "mean_prob"


def test_early_stopping_ends_a_stalled_run(truth):
    """With a learning rate too small to improve the loss, patience ends the run early."""
    kwargs = dict(model="nbdm", n_steps=3000, progress=False, checkpoint_every=100)
    stalled = scribe.fit(
        truth["counts_nbdm"],
        learning_rate=1e-7,
        svi=scribe.SviConfig(early_stopping_patience=300),
        **kwargs,
    )
    assert 300 <= stalled.loss_history.size < 3000
    assert stalled.loss_history.size % 100 == 0  # stops at the end of a dispatched chunk
