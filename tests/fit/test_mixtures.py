"""Mixture fits end to end: recovery of simulated cell types (ARI, r, weights), the
annotation prior, the results API of components, MCMC relabelling and bad input."""

import anndata
import jax
import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linear_sum_assignment

import scribe
from scribe.metrics import adjusted_rand_index

K, N_CELLS, N_GENES = 3, 1500, 200
WEIGHTS = np.array([0.5, 0.3, 0.2])


def simulate(seed, n_cells, n_genes, weights, *, fold_sd=1.0, p=0.6):
    """nbvcp mixture: every gene's r differs between components by a lognormal fold."""
    rng = np.random.default_rng(seed)
    k = len(weights)
    base = rng.lognormal(0.0, 1.0, n_genes)
    r = base[None] * rng.lognormal(0.0, fold_sd, (k, n_genes))
    z = rng.choice(k, n_cells, p=weights)
    nu = rng.beta(8.0, 4.0, n_cells)
    p_hat = p * nu / (1 - p * (1 - nu))
    counts = rng.negative_binomial(r[z], 1 - p_hat[:, None])
    return counts, z, r


def matched(truth, found):
    """Found components reordered to the truth's (Hungarian on the crosstab)."""
    table = np.zeros((K, K))
    np.add.at(table, (truth, found), 1)
    _, order = linear_sum_assignment(-table)
    return order


@pytest.fixture(scope="module")
def simulated():
    return simulate(0, N_CELLS, N_GENES, WEIGHTS)


@pytest.fixture(scope="module")
def results(simulated):
    counts, _, _ = simulated
    return scribe.fit(counts, model="nbvcp", n_components=K, n_steps=1500, progress=False)


def test_recovery_of_components(results, simulated):
    _, z, r = simulated
    probs = results.cell_type_probabilities(50)
    assign = probs.argmax(axis=1)
    ari = adjusted_rand_index(z, assign)
    order = matched(z, assign)
    point = results.get_map()
    weights = np.asarray(point["mixing_weights"])[order]
    # r is identified up to the capture's scale (odds(p)·ν): compare r·odds(p), the
    # per-component mean scale of an average cell, on genes with mean >= 1.
    p = np.asarray(point["p"])[order]
    found = np.asarray(point["r"])[order] * (p / (1 - p))[:, None] * np.mean(point["p_capture"])
    truth = r * 0.6 / 0.4 * 8 / 12
    expressed = truth > 1.0
    log_error = np.abs(np.log(found[expressed] / truth[expressed]))
    print(
        f"ARI {ari:.3f}, weights {np.round(weights, 3)}, median |log r error| "
        f"{np.median(log_error):.3f}, 90% {np.quantile(log_error, 0.9):.3f}"
    )
    assert ari >= 0.9
    np.testing.assert_allclose(weights, WEIGHTS, atol=0.05)
    assert np.median(log_error) < 0.15 and np.quantile(log_error, 0.9) < 0.4


def test_components_results_api(results, simulated):
    counts, z, _ = simulated
    names = results.component_names
    assert names == ("component_0", "component_1", "component_2")
    by_draw = results.cell_type_probabilities(8, by_draw=True, key=jax.random.key(3))
    assert by_draw.shape == (8, N_CELLS, K)
    np.testing.assert_allclose(by_draw.sum(-1), 1.0, rtol=1e-5)
    point = results.get_map()
    for k in range(K):
        component = results.get_component(k)
        assert component.model.n_components is None
        np.testing.assert_allclose(component.get_map()["r"], point["r"][k], rtol=1e-6)
        np.testing.assert_allclose(component.get_map()["p"], point["p"][k], rtol=1e-6)
        # the component's per-cell likelihood is its column of the split log-likelihood
        ll = component.log_likelihood(n_samples=2, key=jax.random.key(0))
        assert ll.shape == (2, N_CELLS)
    assert results.get_component("component_2").get_map()["r"].shape == (N_GENES,)
    with pytest.raises(IndexError, match="out of range"):
        results.get_component(3)
    adata = anndata.AnnData(counts.astype(np.float32))
    adata.var_names = list(results.gene_names)
    results.to_adata(adata)
    probs = adata.obsm["scribe_component_probs"]
    assert probs.shape == (N_CELLS, K)
    labels = adata.obs["scribe_component"]
    assert list(labels.cat.categories) == list(names)
    assert (labels.cat.codes.to_numpy() == probs.argmax(1)).all()
    np.testing.assert_allclose(adata.varm["scribe_r"], np.asarray(point["r"]).T, rtol=1e-6)
    subset = results.get_component(1)[[5, 1]]
    np.testing.assert_allclose(subset.get_map()["r"], np.asarray(point["r"])[1, [5, 1]], rtol=1e-6)
    # A gene subset of the mixture keeps every component (and the weights) at those genes.
    genes = results[[5, 1]].get_map()
    np.testing.assert_allclose(genes["r"], np.asarray(point["r"])[:, [5, 1]], rtol=1e-6)
    np.testing.assert_allclose(genes["mixing_weights"], point["mixing_weights"], rtol=1e-6)


def test_annotation_prior_raises_unlabelled_ari():
    # Weakly separated components: the unsupervised fit confuses some cells.
    counts, z, _ = simulate(1, 900, 60, WEIGHTS, fold_sd=0.35)
    rng = np.random.default_rng(2)
    labelled = rng.random(900) < 0.2
    names = np.array(["B", "T", "NK"])
    obs = pd.DataFrame({"cell_type": np.where(labelled, names[z], None)})
    adata = anndata.AnnData(counts.astype(np.float32), obs=obs)
    settings = dict(model="nbvcp", n_components=K, n_steps=1500, progress=False)
    plain = scribe.fit(adata, **settings)
    guided = scribe.fit(
        adata, annotation_key="cell_type", annotation_component_order=list(names), **settings
    )
    assert guided.component_names == tuple(names)
    free = ~labelled
    ari_plain = adjusted_rand_index(z[free], plain.cell_type_probabilities(50).argmax(1)[free])
    guided_assign = guided.cell_type_probabilities(50).argmax(1)
    ari_guided = adjusted_rand_index(z[free], guided_assign[free])
    print(f"unlabelled cells' ARI: unsupervised {ari_plain:.3f}, 20% labelled {ari_guided:.3f}")
    assert ari_guided > ari_plain
    # labelled components carry the label names: most labelled cells sit in their own
    assert np.mean(guided_assign[labelled] == z[labelled]) > 0.9


@pytest.mark.slow
def test_mcmc_mixture_recovers_weights_and_relabels():
    counts, z, r = simulate(3, 240, 15, np.array([0.6, 0.4]), fold_sd=1.2)
    results = scribe.fit(
        counts,
        model="nbdm",
        n_components=2,
        inference_method="mcmc",
        n_warmup=300,
        n_samples=300,
        n_chains=2,
        progress=False,
        mcmc=scribe.McmcConfig(chain_method="vectorized"),
    )
    assign = results.cell_type_probabilities().argmax(1)
    assert adjusted_rand_index(z, assign) > 0.9
    table = np.zeros((2, 2))
    np.add.at(table, (z, assign), 1)
    _, order = linear_sum_assignment(-table)
    weights = results.get_posterior_samples()["mixing_weights"].mean(0)[order]
    np.testing.assert_allclose(weights, [0.6, 0.4], atol=0.08)
    # After relabelling, every chain agrees on the components.
    r_draws = np.asarray(results.get_posterior_samples(group_by_chain=True)["r"])
    chain_means = r_draws.mean(axis=1)
    np.testing.assert_allclose(chain_means[0], chain_means[1], rtol=0.3)


@pytest.fixture(scope="module")
def labelled_adata():
    counts = np.random.default_rng(0).poisson(2.0, (30, 5))
    obs = pd.DataFrame({"cell_type": ["a", "b", None] * 10, "one": ["x"] * 30})
    return anndata.AnnData(counts.astype(np.float32), obs=obs)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(n_components=1), ValueError, "n_components must be >= 2"),
        (dict(n_components=0), ValueError, "n_components must be >= 2"),
        (dict(n_components=31), ValueError, "n_components must be <= the number of cells"),
        (dict(n_components=2.0), TypeError, "n_components must be an int"),
        (dict(n_components=2, annotation_key="missing"), ValueError, "not a column"),
        (
            dict(n_components=2, annotation_key="cell_type", annotation_component_order=["a"]),
            ValueError,
            "does not place",
        ),
        (
            dict(
                n_components=2,
                annotation_key="cell_type",
                annotation_component_order=["a", "b", "c"],
            ),
            ValueError,
            "names 3 labels for n_components=2",
        ),
        (
            dict(n_components=1 + 1, annotation_key="one", mixture_params=("phi",)),
            ValueError,
            "mixture_params names",
        ),
        (dict(annotation_key="cell_type"), ValueError, "pass n_components"),
        (dict(n_components=2, inference_method="vae"), ValueError, "mixture of cell types"),
        (dict(capture_prior="biology"), ValueError, "needs mrna_per_cell"),
        (dict(capture_prior="biology", mrna_per_cell="mars"), ValueError, "mrna_per_cell must"),
        (
            dict(model="nbdm", capture_prior="biology", mrna_per_cell="human"),
            ValueError,
            "has none",
        ),
    ],
)
def test_bad_mixture_input_fails_before_fitting(labelled_adata, kwargs, error, message):
    kwargs = {"n_steps": 1, "progress": False, **kwargs}
    with pytest.raises(error, match=message):
        scribe.fit(labelled_adata, **kwargs)


def test_more_labels_than_components_is_refused(labelled_adata):
    adata = labelled_adata.copy()
    adata.obs["cell_type"] = [f"t{i % 3}" for i in range(30)]
    with pytest.raises(ValueError, match="3 labels, more than n_components=2"):
        scribe.fit(adata, n_components=2, annotation_key="cell_type", n_steps=1, progress=False)


def test_mixture_with_annotation_saves_and_loads(tmp_path, labelled_adata):
    results = scribe.fit(
        labelled_adata,
        model="zinb",
        n_components=2,
        annotation_key="cell_type",
        n_steps=20,
        progress=False,
        guide_rank=2,
    )
    results.save(tmp_path / "run")
    loaded = scribe.load(tmp_path / "run")
    assert loaded.component_names == ("a", "b")
    np.testing.assert_array_equal(loaded.model.cell_labels, results.model.cell_labels)
    np.testing.assert_allclose(
        loaded.cell_type_probabilities(5), results.cell_type_probabilities(5), rtol=1e-5
    )
