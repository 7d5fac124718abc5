"""``relabel_components``: label switching in synthetic mixture draws (numpy only)."""

import dataclasses
import itertools

import numpy as np
import pytest

from scribe.inference import _relabel
from scribe.inference._draws import McmcDraws
from scribe.inference._relabel import (
    RelabelReport,
    _inverse_log_stick_breaking,
    _log_stick_breaking,
    relabel_components,
)

K, N_GENES, N_CHAINS, N_DRAWS = 3, 5, 2, 200
WEIGHTS = np.array([0.5, 0.3, 0.2])
CHAIN2_PERM = np.array([2, 0, 1])  # a 3-cycle: its inverse differs from it
NON_IDENTITY = [np.array(p) for p in itertools.permutations(range(K)) if p != (0, 1, 2)]


def logits_of(weights: np.ndarray) -> np.ndarray:
    """Stick-breaking logits of simplex weights (the definition of numpyro's
    ``StickBreakingTransform().inv``, written out in float64)."""
    y = weights[..., :-1]
    rest = 1.0 - np.cumsum(y, axis=-1)
    return np.log(y / rest) + np.log(K - 1 - np.arange(K - 1))


def weights_of(logits: np.ndarray) -> np.ndarray:
    """``StickBreakingTransform()(logits)`` written out in float64."""
    z = 1.0 / (1.0 + np.exp(-(logits - np.log(K - 1 - np.arange(K - 1)))))
    rest = np.cumprod(1.0 - z, axis=-1)
    ones = np.ones((*logits.shape[:-1], 1))
    return np.concatenate([z, ones], -1) * np.concatenate([ones, rest], -1)


def truth_globals(seed: int = 0) -> dict[str, np.ndarray]:
    """Draws in the true labelling: well-separated r and p per component, weights near
    (0.5, 0.3, 0.2), and a global shared by all components."""
    rng = np.random.default_rng(seed)
    lead = (N_CHAINS, N_DRAWS)
    levels = np.array([0.0, 1.5, 3.0])[:, None] + rng.normal(0, 0.3, (K, N_GENES))
    r = np.exp(levels + rng.normal(0, 0.1, (*lead, K, N_GENES)))
    p_logit = np.array([-1.5, 0.0, 1.5]) + rng.normal(0, 0.15, (*lead, K))
    p = 1 / (1 + np.exp(-p_logit))
    w = WEIGHTS * np.exp(rng.normal(0, 0.05, (*lead, K)))
    w /= w.sum(-1, keepdims=True)
    return {
        "r": r,
        "p": p,
        "mixing_logits": logits_of(w),
        "phi": rng.gamma(2.0, 1.0, lead),
    }


def make_draws(globals_: dict[str, np.ndarray], best: tuple[int, int] = (0, 0)) -> McmcDraws:
    """McmcDraws of these globals, the highest log-joint at draw ``best`` = (chain, draw)."""
    lead = (N_CHAINS, N_DRAWS)
    log_joint = np.random.default_rng(1).normal(-100.0, 1.0, lead)
    log_joint[best] = 0.0
    return McmcDraws(
        globals_=globals_,
        locals_={"capture": np.full((*lead, 7), 0.5)},
        log_joint=log_joint,
        diverging=np.zeros(lead, bool),
        num_steps=np.full(lead, 7, np.int64),
        accept_prob=np.full(lead, 0.9),
        step_size=np.full(N_CHAINS, 0.1),
        max_tree_depth=10,
    )


def scramble(truth: dict[str, np.ndarray], perms: np.ndarray) -> dict[str, np.ndarray]:
    """The truth with draw (c, d)'s component k taken from true component perms[c, d, k]."""
    out = dict(truth)
    out["r"] = np.take_along_axis(truth["r"], perms[..., None], axis=2)
    out["p"] = np.take_along_axis(truth["p"], perms, axis=2)
    w = np.take_along_axis(weights_of(truth["mixing_logits"]), perms, axis=2)
    out["mixing_logits"] = logits_of(w)
    return out


@pytest.fixture(scope="module")
def switched():
    """Truth, and draws where chain 2 is all CHAIN2_PERM and 30 random draws of chain 1
    have a random non-identity permutation; the applied permutations."""
    rng = np.random.default_rng(2)
    perms = np.broadcast_to(np.arange(K), (N_CHAINS, N_DRAWS, K)).copy()
    perms[1] = CHAIN2_PERM
    picked = rng.choice(np.arange(1, N_DRAWS), 30, replace=False)  # draw 0 (best) kept
    for d in picked:
        perms[0, d] = NON_IDENTITY[rng.integers(len(NON_IDENTITY))]
    truth = truth_globals()
    return truth, scramble(truth, perms), perms


def copies(draws: McmcDraws) -> dict[str, np.ndarray]:
    return {n: v.copy() for n, v in draws.globals_.items()}


def test_switched_draws_recover_the_true_labelling(switched):
    truth, scrambled, perms = switched
    draws = make_draws(scrambled, best=(0, 0))
    before = copies(draws)
    out, report = relabel_components(draws, ["r", "p"], K)

    assert isinstance(out, McmcDraws) and isinstance(report, RelabelReport)
    np.testing.assert_array_equal(out.globals_["r"], truth["r"])
    np.testing.assert_array_equal(out.globals_["p"], truth["p"])
    w = weights_of(out.globals_["mixing_logits"])
    np.testing.assert_allclose(w, weights_of(truth["mixing_logits"]), rtol=0, atol=1e-12)
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-12)
    # per component, the posterior means are those of the truth, near the weights
    np.testing.assert_allclose(w.mean(axis=(0, 1)), WEIGHTS, atol=0.02)
    assert np.all(np.diff(np.log(out.globals_["r"]).mean(axis=(0, 1, 3))) > 1.0)

    assert report.n_permuted == int(np.any(perms != np.arange(K), -1).sum()) == 230
    assert report.per_chain == [30, 200]
    assert report.n_draws == N_CHAINS * N_DRAWS
    assert report.switched
    # the permutation undoing each applied one: scrambled[s[k]] = truth[k]
    np.testing.assert_array_equal(report.permutations, np.argsort(perms, axis=-1))
    assert report.converged

    # the rest untouched; the input not modified
    assert out.globals_["phi"] is draws.globals_["phi"]
    assert out.log_joint is draws.log_joint and out.locals_ is draws.locals_
    for name, value in before.items():
        np.testing.assert_array_equal(draws.globals_[name], value)


def test_reference_is_the_best_draw_even_in_a_switched_chain(switched):
    """With the best draw in chain 2, every draw ends in chain 2's labelling."""
    truth, scrambled, perms = switched
    out, report = relabel_components(make_draws(scrambled, best=(1, 17)), ["r", "p"], K)
    expected = scramble(truth, np.broadcast_to(CHAIN2_PERM, perms.shape))
    np.testing.assert_array_equal(out.globals_["r"], expected["r"])
    np.testing.assert_array_equal(out.globals_["p"], expected["p"])
    np.testing.assert_allclose(
        weights_of(out.globals_["mixing_logits"]),
        weights_of(expected["mixing_logits"]),
        atol=1e-12,
    )
    moved = np.any(perms != CHAIN2_PERM, axis=-1)
    assert report.per_chain == [int(moved[0].sum()), 0]
    assert report.n_permuted == int(moved.sum()) > 170


def test_no_switching_changes_nothing():
    draws = make_draws(truth_globals(3), best=(1, 5))
    before = copies(draws)
    out, report = relabel_components(draws, ("r", "p"), K)
    assert report.n_permuted == 0 and report.per_chain == [0, 0] and not report.switched
    assert report.n_iterations == 1 and report.converged
    for name, value in before.items():
        np.testing.assert_array_equal(out.globals_[name], value)  # bit for bit
        np.testing.assert_array_equal(draws.globals_[name], value)
    assert out.globals_["r"] is not draws.globals_["r"]  # new arrays, input not shared


def test_single_component_global_and_blocks_and_determinism(switched, monkeypatch):
    """`p` alone separates the components (and only the named globals are permuted);
    blocks of draws and no reference update (max_iter=0) give the same permutations."""
    truth, scrambled, perms = switched
    draws = make_draws(scrambled)
    out, report = relabel_components(draws, ["p"], K)
    np.testing.assert_array_equal(out.globals_["p"], truth["p"])
    assert out.globals_["r"] is draws.globals_["r"]
    again, again_report = relabel_components(draws, ["p"], K)
    np.testing.assert_array_equal(again_report.permutations, report.permutations)
    monkeypatch.setattr(_relabel, "_CHUNK_ELEMENTS", 7 * K * (N_GENES + 1))
    blocked, blocked_report = relabel_components(draws, ["r", "p"], K, max_iter=0)
    assert blocked_report.n_iterations == 0
    np.testing.assert_array_equal(blocked.globals_["p"], truth["p"])
    np.testing.assert_array_equal(blocked_report.permutations, report.permutations)


def test_float32_draws_keep_their_dtype(switched):
    truth, scrambled, _ = switched
    draws = make_draws({n: v.astype(np.float32) for n, v in scrambled.items()})
    out, report = relabel_components(draws, ["r", "p"], K)
    assert report.n_permuted == 230
    for name in ("r", "p", "mixing_logits"):
        assert out.globals_[name].dtype == np.float32
    np.testing.assert_array_equal(out.globals_["r"], truth["r"].astype(np.float32))
    np.testing.assert_allclose(
        weights_of(out.globals_["mixing_logits"].astype(np.float64)),
        weights_of(truth["mixing_logits"]),
        atol=1e-6,
    )


def test_stick_breaking_matches_numpyro():
    import jax
    from numpyro.distributions.transforms import StickBreakingTransform

    from scribe.inference import float64

    logits = np.random.default_rng(4).normal(0, 3, (50, 4))
    with float64(), jax.numpy_rank_promotion("allow"):
        sb = StickBreakingTransform()
        weights = np.asarray(sb(logits))
        back = np.asarray(sb.inv(weights[:, ::-1]))
    log_w = _log_stick_breaking(logits)
    np.testing.assert_allclose(np.exp(log_w), weights, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(_inverse_log_stick_breaking(log_w), logits, atol=1e-10)
    np.testing.assert_allclose(_inverse_log_stick_breaking(log_w[:, ::-1]), back, atol=1e-8)


def bad(draws: McmcDraws, **changes) -> McmcDraws:
    return dataclasses.replace(draws, globals_={**draws.globals_, **changes})


@pytest.mark.parametrize(
    ("components", "n_components", "changes", "match"),
    [
        (["r", "p"], 1, {}, "at least 2"),
        (["r", "p"], 2.0, {}, "integer"),
        ([], K, {}, "no component-specific"),
        ("r", K, {}, "collection of names"),
        (["r", "mu"], K, {}, "'mu'"),
        (["r", "p"], 4, {}, "'r'"),
        (["r", "phi"], K, {}, "'phi'"),
        (["r", "mixing_logits"], K, {}, "leave it out"),
        (["r", "p"], K, {"p": np.full((N_CHAINS, N_DRAWS, K + 1), 0.5)}, "'p'"),
        (["r"], K, {"mixing_logits": np.zeros((N_CHAINS, N_DRAWS, K))}, "mixing_logits"),
    ],
)
def test_invalid_arguments(components, n_components, changes, match):
    draws = bad(make_draws(truth_globals()), **changes)
    with pytest.raises(ValueError, match=match):
        relabel_components(draws, components, n_components)


def test_features_are_standardised(switched):
    """A near-uninformative parameter on a large scale (``a``: log levels 1 apart, noise
    sd 3) beside an informative one on a tiny scale (``p``: logits 0.03 apart, noise
    0.001): unstandardised, ``a`` would decide; standardised, ``p`` does."""
    _, _, perms = switched
    rng = np.random.default_rng(5)
    lead = (N_CHAINS, N_DRAWS)
    truth = {
        "a": np.exp(np.array([0.0, 1.0, 2.0]) + rng.normal(0, 3, (*lead, K))),
        "p": 1 / (1 + np.exp(-(np.array([-0.03, 0.0, 0.03]) + rng.normal(0, 1e-3, (*lead, K))))),
    }
    scrambled = {n: np.take_along_axis(v, perms, axis=2) for n, v in truth.items()}
    out, report = relabel_components(make_draws(scrambled), ["a", "p"], K)
    np.testing.assert_array_equal(out.globals_["p"], truth["p"])
    np.testing.assert_array_equal(out.globals_["a"], truth["a"])
    assert report.n_permuted == 230 and report.converged


def test_feature_scale_by_range():
    assert _relabel._kind(np.array([0.1, 0.9, np.nan])) == "logit"
    assert _relabel._kind(np.array([0.1, 1.0])) == "log"
    assert _relabel._kind(np.array([0.1, 20.0, np.inf])) == "log"
    assert _relabel._kind(np.array([-1.0, 2.0])) == "identity"
    np.testing.assert_allclose(
        _relabel._transform(np.full((1, 2, 3), 0.25), "logit"), np.log(1 / 3)
    )
