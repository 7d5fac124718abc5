"""Hierarchical, horseshoe and NEG priors on gene-specific p: formulas against numpy and
scipy, recovery on simulated data where 10% of genes have a distinct p, bad input."""

import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pytest
import scipy.stats as st

import scribe
from scribe.model import GeneHierarchy, ScribeModel
from scribe.parameterizations import get_parameterization

N_CELLS, N_GENES, SHARED_P, DISTINCT_P = 600, 100, 0.5, 0.85
STEPS = 4000


def _simulate():
    rng = np.random.default_rng(0)
    r = rng.lognormal(1.0, 0.5, N_GENES)
    p = np.full(N_GENES, SHARED_P)
    distinct = np.arange(N_GENES) < N_GENES // 10
    p[distinct] = DISTINCT_P
    # numpy's success probability is 1 - numpyro's probs.
    return rng.negative_binomial(r, 1.0 - p, size=(N_CELLS, N_GENES)), distinct


@pytest.fixture(scope="module")
def simulated():
    return _simulate()


@pytest.fixture(scope="module")
def fits(simulated):
    counts, _ = simulated
    out = {}
    for kind in ("normal", "horseshoe", "neg"):
        results = scribe.fit(
            counts, model="nbdm", hierarchical={"p": kind}, n_steps=STEPS, progress=False, seed=1
        )
        samples = results.get_posterior_samples(n_samples=300)
        out[kind] = {n: np.asarray(v) for n, v in samples.items()}
    return out


def _population(samples):
    return 1.0 / (1.0 + np.exp(-samples["p_loc"].mean()))


@pytest.mark.parametrize("kind", ["normal", "horseshoe", "neg"])
def test_distinct_genes_separate_from_the_population(kind, fits, simulated):
    """Each distinct gene's 90% interval of p excludes the population value (all ten),
    and their posterior means recover the truth within 0.05."""
    _, distinct = simulated
    samples = fits[kind]
    lo, hi = np.quantile(samples["p"], [0.05, 0.95], axis=0)
    population = _population(samples)
    separated = (lo[distinct] > population) | (hi[distinct] < population)
    print(f"{kind}: population p {population:.3f}; {separated.mean():.0%} separated")
    assert separated.mean() >= 0.9
    assert abs(samples["p"].mean(0)[distinct].mean() - DISTINCT_P) < 0.05


@pytest.mark.parametrize("kind", ["horseshoe", "neg"])
def test_sparsity_priors_shrink_the_other_genes_to_the_shared_value(kind, fits, simulated):
    """The measure: the median over the other 90 genes of |E[p_g] − population p|. Under
    the horseshoe and NEG it is below a quarter of the per-gene method-of-moments
    scatter around the truth (median |p̂_g − 0.5|) and below a quarter of the Normal
    hierarchy's own (one scale for all genes, set by the distinct ones, barely
    shrinks); the population value is within 0.03 of the shared truth."""
    counts, distinct = simulated
    moments = 1.0 - counts.mean(0) / counts.var(0)
    scatter = np.median(np.abs(moments[~distinct] - SHARED_P))

    def deviation(samples):
        return np.median(np.abs(samples["p"].mean(0)[~distinct] - _population(samples)))

    found, normal = deviation(fits[kind]), deviation(fits["normal"])
    print(f"{kind}: {found:.4f}; normal {normal:.4f}; method of moments {scatter:.4f}")
    assert found < 0.25 * scatter
    assert found < 0.25 * normal
    assert abs(_population(fits[kind]) - SHARED_P) < 0.03


def _horseshoe_model(n_genes, priors=None):
    return ScribeModel(
        "nbdm",
        get_parameterization("canonical"),
        n_cells=10,
        n_genes=n_genes,
        hierarchies={"p": "horseshoe"},
        priors=priors,
    )


def _parts(kind, rng):
    hierarchy = GeneHierarchy("p", kind, 7)
    values = {
        n: jnp.asarray(rng.uniform(0.2, 2.0, s) if n != "p_raw" else rng.normal(size=s))
        for n, s in hierarchy.shapes.items()
    }
    return hierarchy, {n: np.asarray(v) for n, v in values.items()}


@pytest.mark.parametrize("kind", ["normal", "horseshoe", "neg"])
def test_values_follow_the_documented_non_centred_formulas(kind):
    rng = np.random.default_rng(4)
    hierarchy, values = _parts(kind, rng)
    g = {n.removeprefix("p_"): v for n, v in values.items()}
    if kind == "normal":
        spread = g["scale"]
    elif kind == "horseshoe":
        lam2 = g["slab"] * g["lambda"] ** 2 / (g["slab"] + g["tau"] ** 2 * g["lambda"] ** 2)
        spread = g["tau"] * np.sqrt(lam2)
    else:
        spread = np.sqrt(g["omega"] / g["zeta"])
    theta = g["loc"] + spread * g["raw"]
    found = hierarchy.value({n: jnp.asarray(v) for n, v in values.items()})
    np.testing.assert_allclose(found, 1.0 / (1.0 + np.exp(-theta)), rtol=1e-5)
    back = hierarchy.from_value(found)
    np.testing.assert_allclose(hierarchy.value(back), found, rtol=1e-4)


def test_log_prior_is_the_sum_of_the_documented_densities():
    """The model's log-prior of a horseshoe on p against scipy: N(0, 1) loc and raw,
    HalfCauchy(1) τ and λ, InvGamma(2, 8) c², and the NB r's LogNormal(0, 1)."""
    rng = np.random.default_rng(5)
    model = _horseshoe_model(7)
    _, values = _parts("horseshoe", rng)
    values["r"] = rng.uniform(0.5, 3.0, 7)
    expected = (
        st.norm.logpdf(values["p_loc"])
        + st.norm.logpdf(values["p_raw"]).sum()
        + st.halfcauchy.logpdf(values["p_tau"])
        + st.halfcauchy.logpdf(values["p_lambda"]).sum()
        + st.invgamma.logpdf(values["p_slab"], 2.0, scale=8.0)
        + st.lognorm.logpdf(values["r"], 1.0).sum()
    )
    found = model.log_prior({n: jnp.asarray(v) for n, v in values.items()})
    np.testing.assert_allclose(float(found), expected, rtol=1e-5)
    assert model.global_shapes["p_raw"] == (7,) and model.global_shapes["p_tau"] == ()


def test_normal_scale_prior_is_softplus_of_a_normal():
    """scale = softplus(s), s ~ N(−2, 0.5): density by change of variables."""
    prior = GeneHierarchy("gate", "normal", 3).priors({})["gate_scale"]
    scale = np.array([0.05, 0.13, 0.4])
    s = np.log(np.expm1(scale))
    jacobian = -np.log1p(-np.exp(-scale))  # d s / d scale = 1 / (1 - e^{-scale})
    expected = st.norm.logpdf(s, -2.0, 0.5) + jacobian
    np.testing.assert_allclose(prior.log_prob(jnp.asarray(scale)), expected, rtol=1e-5)


def test_gate_hierarchy_on_zinb_gives_gene_specific_gates(simulated):
    counts, _ = simulated
    results = scribe.fit(
        counts[:, :20], model="zinb", hierarchical=("gate",), n_steps=50, progress=False
    )
    gate = np.asarray(results.get_map()["gate"])
    assert gate.shape == (20,) and np.all((gate > 0) & (gate < 1))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(model="nbdm", hierarchical=("gate",)), "does not sample"),
        (dict(model="nbdm", parameterization="mean_odds", hierarchical=("p",)), "valid targets"),
        (dict(model="nbdm", hierarchical={"p": "laplace"}), "must be one of"),
        (dict(model="nbdm", hierarchical=("p",), horseshoe=("p",)), "both hierarchical"),
        (dict(model="nbdm", hierarchical=("r",)), "target must be one of"),
        (
            dict(model="nbdm", hierarchical=("p",), n_components=2, mixture_params=("p",)),
            "shared by the components",
        ),
    ],
)
def test_bad_hierarchies_are_refused_before_fitting(kwargs, message, simulated):
    counts, _ = simulated
    with pytest.raises(ValueError, match=message):
        scribe.fit(counts, n_steps=1, progress=False, **kwargs)


def test_priors_cannot_name_a_hierarchical_target_but_can_override_its_parts(simulated):
    counts, _ = simulated
    with pytest.raises(ValueError, match="replaces"):
        scribe.fit(
            counts,
            model="nbdm",
            hierarchical=("p",),
            priors={"p": dist.Beta(1.0, 1.0)},
            n_steps=1,
            progress=False,
        )
    model = _horseshoe_model(3, priors={"p_tau": dist.HalfCauchy(0.1)})
    assert float(model.global_priors["p_tau"].scale) == pytest.approx(0.1)
