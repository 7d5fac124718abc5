"""SVI on nbvcp: scribe vs a numpyro model written the conventional way, same data, same run.

Run: ``python benchmarks/svi_nbvcp.py [--steps 500]``
Data: the bundled 10x mouse subset, empty cells and genes dropped (9,999 × 715).
Prints steady-state ms per step (after compilation) at full batch and at batch_size=512
for scribe and for the baseline (``plate("cells", subsample_size=...)``, ``AutoNormal``,
dense ``NegativeBinomialProbs``), their ratio, and the final loss of both after the same
number of steps (mean negative ELBO over the last 10% of steps).
"""

import argparse
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import optax
from _timing import time_svi_steps
from numpyro.infer import SVI, Trace_ELBO
from numpyro.infer.autoguide import AutoNormal

import scribe


def baseline_model(counts, n_cells, batch_size):
    n_genes = counts.shape[1]
    p = numpyro.sample("p", dist.Beta(1.0, 1.0))
    with numpyro.plate("genes", n_genes):
        r = numpyro.sample("r", dist.LogNormal(0.0, 1.0))
    with numpyro.plate("cells", n_cells, subsample_size=batch_size) as idx:
        nu = numpyro.sample("p_capture", dist.Beta(1.0, 1.0))
        p_hat = p * nu / (1 - p * (1 - nu))
        numpyro.sample(
            "counts",
            dist.NegativeBinomialProbs(r, probs=p_hat[:, None]).to_event(1),
            obs=counts[idx],
        )


def time_baseline(counts, batch_size, n_steps, learning_rate):
    n_cells = counts.shape[0]
    svi = SVI(baseline_model, AutoNormal(baseline_model), optax.adam(learning_rate), Trace_ELBO())
    state = svi.init(jax.random.key(0), counts, n_cells, batch_size)
    update = jax.jit(svi.update, static_argnums=(2, 3))
    state, loss = update(state, counts, n_cells, batch_size)  # compile
    jax.block_until_ready(loss)
    losses = []
    start = time.perf_counter()
    for _ in range(n_steps):
        state, loss = update(state, counts, n_cells, batch_size)
        losses.append(loss)
    jax.block_until_ready(losses[-1])
    elapsed = time.perf_counter() - start
    return elapsed / n_steps, np.asarray(losses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scribe.DataWarning)
        data = scribe.data.load_counts(scribe.datasets.mouse_10x_10k_subset()).drop_empty()
    dense = jnp.asarray(data.dense())
    print(
        f"nbvcp on {data.n_cells} cells × {data.n_genes} genes, {args.steps} steps, "
        f"Adam lr {args.learning_rate}, device {jax.devices()[0]}"
    )
    for label, batch_size in (("full batch", data.n_cells), ("batch 512", 512)):
        ours, our_losses = time_svi_steps(data, batch_size, args.steps, args.learning_rate, 50)
        theirs, their_losses = time_baseline(dense, batch_size, args.steps, args.learning_rate)
        tail = max(args.steps // 10, 1)
        print(
            f"{label:10s}  scribe {ours * 1e3:8.2f} ms/step   numpyro baseline "
            f"{theirs * 1e3:8.2f} ms/step   ×{theirs / ours:6.1f}   final loss scribe "
            f"{our_losses[-tail:].mean():.6e}  baseline {their_losses[-tail:].mean():.6e}"
        )


if __name__ == "__main__":
    main()
