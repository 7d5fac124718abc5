"""The example scripts run as the README says and print numbers that make sense."""

import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import scribe

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NUMBER = r"([-+]?\d+(?:\.\d*)?(?:e[-+]?\d+)?)"


def _find(pattern: str, text: str) -> tuple[str, ...]:
    match = re.search(pattern, text, re.MULTILINE)
    assert match is not None, f"no line matches {pattern!r} in:\n{text}"
    return match.groups()


@pytest.fixture(scope="module")
def fit_bundled(tmp_path_factory) -> tuple[str, Path]:
    """``python examples/fit_bundled.py --steps 50 --out DIR``: its stdout and DIR."""
    out = tmp_path_factory.mktemp("fit_bundled") / "results"
    command = [sys.executable, str(EXAMPLES / "fit_bundled.py"), "--steps", "50", "--out", out]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    # Data warnings are dealt with in the script; a user should see none.
    assert "Warning" not in done.stderr, done.stderr
    return done.stdout, out


@pytest.mark.slow
def test_fit_bundled_summary(fit_bundled):
    text, _ = fit_bundled
    adata = scribe.datasets.mouse_10x_10k_subset()
    counts = adata.X
    observed_mean = np.asarray(counts.mean(axis=0)).ravel()
    n_nonempty_cells = int((np.asarray(counts.sum(axis=1)).ravel() > 0).sum())
    n_nonempty_genes = int((observed_mean > 0).sum())
    assert _find(r"^data: .* (\d+) cells × (\d+) genes", text) == (
        str(n_nonempty_cells),
        str(n_nonempty_genes),
    )
    assert _find(r"^fit: (\d+) steps in", text) == ("50",)
    (loss,) = _find(rf"^loss: {NUMBER} \(mean of the last 50 steps", text)
    assert 0 < float(loss) < np.inf
    assert _find(r"^skipped steps: (\d+)$", text) == ("0",)

    p, phi = map(float, _find(rf"^MAP: p = {NUMBER}, phi = \(1 - p\) / p = {NUMBER}$", text))
    assert 0 < p < 1
    np.testing.assert_allclose(phi, (1 - p) / p, rtol=2e-3)
    median, low, high = map(
        float, _find(rf"^p_capture .*: median {NUMBER}, 5-95% range {NUMBER} to {NUMBER}$", text)
    )
    assert 0 < low <= median <= high < 1

    header = text.index("top 10 genes by posterior mean mu")
    rows = re.findall(rf"^  (\S+) +{NUMBER}  \[{NUMBER}, {NUMBER}\]$", text[header:], re.MULTILINE)
    assert len(rows) == 10
    names = [row[0] for row in rows]
    mean, lower, upper = (np.array([float(row[i]) for row in rows]) for i in (1, 2, 3))
    assert len(set(names)) == 10 and set(names) <= set(adata.var_names)
    assert np.all(np.diff(mean) <= 0) and np.all((0 < lower) & (lower <= mean) & (mean <= upper))
    # μ is expression before capture (observed mean = μ × average capture), so it exceeds
    # the observed mean; the order of the genes is the data's.
    ratio = observed_mean[adata.var_names.get_indexer(names)] / mean
    assert np.all((0 < ratio) & (ratio < 1)), ratio
    highest = set(adata.var_names[np.argsort(observed_mean)[::-1][:20]])
    assert set(names) <= highest

    (added,) = _find(r"^to_adata added: (.*)$", text)
    for key in ("var['scribe_mu']", "var['scribe_r']", "obs['scribe_p_capture']", "uns['scribe']"):
        assert key in added


@pytest.mark.slow
def test_fit_bundled_saves_results_that_load(fit_bundled):
    text, out = fit_bundled
    assert f"saved: {out}" in text
    # In a fresh process: the results were saved without jax_enable_x64, as a user runs it.
    code = (
        "import sys, scribe; r = scribe.load(sys.argv[1]); "
        "print(r.loss_history.size, r.config.model.model, r.config.model.parameterization)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(out)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["50", "nbvcp", "mean_odds"]


def test_custom_encoder_example_trains_a_users_encoder():
    """``examples/custom_encoder.py``: a user's linear encoder plugs into the VAE and its
    embedding carries the annotated cell types (kNN accuracy well above the most
    frequent label's share), as does the default encoder's."""
    command = [sys.executable, str(EXAMPLES / "custom_encoder.py"), "--steps", "300"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    (chance,) = _find(rf"most frequent label alone: {NUMBER}", text)
    for name in ("linear \\(custom\\)", "MLP \\(default\\)"):
        loss, accuracy = _find(
            rf"^{name}\s+final loss {NUMBER}\s+kNN accuracy of bulk_labels {NUMBER}", text
        )
        assert np.isfinite(float(loss))
        assert float(accuracy) > float(chance) + 0.2, text


@pytest.mark.slow
def test_loglik_example_prints_every_model_and_scipys_values():
    """``examples/loglik_bundled.py``: one finite line per model, per-cell values the
    totals over the cells, and the NB totals equal to scipy's at the parameters its
    docstring describes (the method-of-moments recipe, recomputed here)."""
    import scipy.stats

    command = [sys.executable, str(EXAMPLES / "loglik_bundled.py")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    (n_cells,) = map(int, _find(r"^mouse_10x_10k_subset: (\d+) cells", done.stdout))
    rows = dict(
        (name, (float(total), float(per_cell)))
        for name, total, per_cell in re.findall(
            rf"^(\w+) +{NUMBER} +{NUMBER}$", done.stdout, re.MULTILINE
        )
    )
    models = ["nbdm", "zinb", "nbvcp", "zinbvcp", "twostate", "pln", "nbln", "lnm"]
    assert sorted(rows) == sorted(models)
    for name, (total, per_cell) in rows.items():
        assert np.isfinite(total) and abs(per_cell - total / n_cells) < 0.006, name

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scribe.DataWarning)
        data = scribe.data.load_counts(scribe.datasets.mouse_10x_10k_subset()).drop_empty()
    counts = data.dense()
    mean, variance = counts.mean(0), counts.var(0)
    p = float(np.clip(1.0 - mean.sum() / variance.sum(), 1e-3, 1 - 1e-3))
    r = np.clip(mean * (1.0 - p) / p, 1e-3, None)
    nbdm = scipy.stats.nbinom.logpmf(counts, r[None], 1.0 - p).sum()
    np.testing.assert_allclose(rows["nbdm"][0], nbdm, rtol=1e-5)
    capture = np.clip(data.total_counts / data.total_counts.max(), 1e-3, 1.0)
    odds = p / (1.0 - p) / capture.mean()
    p_vcp = float(np.clip(odds / (1.0 + odds), 1e-3, 1 - 1e-3))
    p_hat = p_vcp * capture[:, None] / (1.0 - p_vcp * (1.0 - capture[:, None]))
    nbvcp = scipy.stats.nbinom.logpmf(counts, r[None], 1.0 - p_hat).sum()
    np.testing.assert_allclose(rows["nbvcp"][0], nbvcp, rtol=1e-5)
