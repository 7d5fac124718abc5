"""Log-likelihood + gradient: numpyro's dense NB vs scribe's dense and sparse paths.

Run: ``python benchmarks/loglik.py`` (CPU by default; float32).
Data: the bundled 10x mouse subset (scanpy), empty cells and genes dropped: 9,999 × 715.
For each model the three paths are timed on the same parameters after compilation; the
printed ratios are against numpyro's dense ``NegativeBinomialProbs(...).log_prob`` measured
in the same run.
"""

import argparse
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from numpyro.distributions import NegativeBinomialProbs

import scribe
from scribe.likelihoods import (
    CaptureParams,
    NBParams,
    NegativeBinomial,
    VariableCapture,
    sparse_log_prob_sum,
)


def _time(fn, *args, repeats: int) -> float:
    jax.block_until_ready(fn(*args))  # compile
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()

    data = scribe.data.load_counts(scribe.datasets.mouse_10x_10k_subset()).drop_empty()
    device = data.to_device()
    batch = device.full_batch(dense=True)
    dense_counts = batch.counts
    n_cells, n_genes = data.n_cells, data.n_genes
    print(
        f"data: {n_cells} cells × {n_genes} genes, {data.nnz} nonzeros "
        f"({100 * (1 - data.nnz / (n_cells * n_genes)):.1f}% zeros); device {jax.devices()[0]}"
    )

    rng = np.random.default_rng(0)
    r = jnp.asarray(rng.uniform(0.2, 2.0, size=(1, n_genes)), jnp.float32)
    p = jnp.asarray([[0.3]], jnp.float32)
    capture = jnp.asarray(rng.uniform(0.2, 0.9, size=(n_cells,)), jnp.float32)

    models = {
        "nbdm": (NegativeBinomial(), NBParams(r=r, p=p), lambda q: q.p),
        "nbvcp": (
            VariableCapture(NegativeBinomial()),
            CaptureParams(base=NBParams(r=r, p=p), capture=capture),
            lambda q: NegativeBinomial().thin(q.base, q.capture).p,
        ),
    }
    for name, (likelihood, params, thinned_p) in models.items():

        def numpyro_dense(q, thinned_p=thinned_p):
            r_ = q.base.r if isinstance(q, CaptureParams) else q.r
            return NegativeBinomialProbs(r_, probs=thinned_p(q)).log_prob(dense_counts).sum()

        def scribe_dense(q, likelihood=likelihood):
            return likelihood.log_prob(dense_counts, q).sum()

        def scribe_sparse(q, likelihood=likelihood):
            return sparse_log_prob_sum(
                likelihood, q, batch.nonzeros, n_cells=n_cells, n_genes=n_genes
            ).sum()

        timings = {}
        values = {}
        for label, fn in [
            ("numpyro dense", numpyro_dense),
            ("scribe dense", scribe_dense),
            ("scribe sparse", scribe_sparse),
        ]:
            step = eqx.filter_jit(jax.value_and_grad(fn))
            values[label] = float(step(params)[0])
            timings[label] = _time(step, params, repeats=args.repeats)
        base = timings["numpyro dense"]
        print(f"\n{name}: log-likelihood + gradient, median of {args.repeats}")
        for label, seconds in timings.items():
            print(
                f"  {label:14s} {seconds * 1e3:9.2f} ms   ×{base / seconds:6.1f} vs numpyro dense"
                f"   loglik {values[label]:.6e}"
            )


if __name__ == "__main__":
    main()
