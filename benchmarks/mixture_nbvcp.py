"""K = 5 mixture nbvcp against the one-component fit, same data, same run; and the K = 10
mixture's cell types on the PBMCs against scanpy's Leiden clustering.

Run: ``python benchmarks/mixture_nbvcp.py [--steps 300] [--scanpy-python PATH]``

1. The bundled 10x mouse subset, empty cells and genes dropped (9,999 × 715): steady-state
   ms per SVI step (after compilation) of ``nbvcp`` with ``n_components=5`` (every
   global per component, the default) and with one component, at full batch and at
   ``batch_size=512``, under the defaults a user runs (mean-field guide, Adam lr 0.01).
   Target (issue 12): the K = 5 step costs ≤ 3× the K = 1 step.
2. The bundled 700 PBMCs (``obs["bulk_labels"]`` withheld from the fit):
   ``scribe.fit(model="nbvcp", n_components=10, n_steps=STEPS)`` (defaults otherwise),
   the adjusted Rand index of its MAP assignments (most probable component per cell)
   against the labels, beside scanpy's recipe on the same cells: normalize_total,
   log1p, PCA(50), neighbors (15), Leiden at resolution 1 (and the resolution giving 10
   clusters). scanpy runs in its own Python environment as a subprocess
   (``benchmarks/_scanpy_side.py``); create it once with
   ``python3 -m venv /work/scanpy-env && /work/scanpy-env/bin/pip install scanpy
   leidenalg igraph`` and pass ``--scanpy-python /work/scanpy-env/bin/python``.
"""

import argparse
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import jax
import numpy as np
import scipy.sparse as sp
from _timing import time_svi_steps

import scribe
from scribe.config import ModelConfig
from scribe.metrics import adjusted_rand_index

CHUNK = 50


def ms_per_step(data, n_components, batch_size, n_steps):
    model = ModelConfig(model="nbvcp", n_components=n_components)
    seconds, _ = time_svi_steps(data, batch_size, n_steps, chunk=CHUNK, model=model)
    return seconds * 1e3


def scanpy_ari(python, counts, labels):
    with tempfile.TemporaryDirectory() as folder:
        inputs, outputs = Path(folder) / "in.npz", Path(folder) / "out.npz"
        np.savez(
            inputs,
            data=counts.data,
            indices=counts.indices,
            indptr=counts.indptr,
            shape=np.asarray(counts.shape),
            labels=np.asarray(labels, dtype=str),
        )
        script = Path(__file__).with_name("_scanpy_side.py")
        done = subprocess.run(
            [python, str(script), str(inputs), str(outputs)], capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"scanpy failed:\n{done.stderr[-4000:]}")
        with np.load(outputs, allow_pickle=False) as result:
            return {name: result[name] for name in result.files}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--pbmc-steps", type=int, default=5000)
    parser.add_argument("--scanpy-python", default=None)
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scribe.DataWarning)
        data = scribe.data.load_counts(scribe.datasets.mouse_10x_10k_subset()).drop_empty()
    print(
        f"nbvcp on {data.n_cells} cells × {data.n_genes} genes, {args.steps} timed steps, "
        f"device {jax.devices()[0]}"
    )
    for label, batch_size in (("full batch", data.n_cells), ("batch 512", 512)):
        one = ms_per_step(data, None, batch_size, args.steps)
        five = ms_per_step(data, 5, batch_size, args.steps)
        verdict = "met" if five <= 3 * one else "NOT met"
        print(
            f"{label:10s}  K=1 {one:8.2f} ms/step   K=5 {five:8.2f} ms/step   "
            f"ratio {five / one:5.2f} (target <= 3: {verdict})"
        )

    adata = scribe.datasets.pbmc68k_reduced()
    labels = np.asarray(adata.obs["bulk_labels"].astype(str))
    fit_data = adata.copy()
    del fit_data.obs["bulk_labels"]
    start = time.perf_counter()
    results = scribe.fit(
        fit_data, model="nbvcp", n_components=10, n_steps=args.pbmc_steps, progress=False
    )
    seconds = time.perf_counter() - start
    assign = results.cell_type_probabilities().argmax(axis=1)
    ari = adjusted_rand_index(labels, assign)
    print(
        f"pbmc68k ({adata.n_obs} cells, {len(set(labels))} bulk_labels): scribe K=10 nbvcp "
        f"mixture ({args.pbmc_steps} steps, {seconds:.0f} s) ARI {ari:.3f}, "
        f"{len(set(assign))} components used"
    )
    python = args.scanpy_python
    if python is None:
        import importlib.util

        python = sys.executable if importlib.util.find_spec("scanpy") else None
    if python is None:
        print("scanpy: not run (pass --scanpy-python PATH)")
        return
    counts = sp.csr_matrix(adata.X)
    out = scanpy_ari(python, counts, labels)
    print(
        f"scanpy {out['version']}: Leiden resolution 1.0 ({int(out['n_default'])} clusters) "
        f"ARI {float(out['ari_default']):.3f}; resolution {float(out['resolution_10']):.2f} "
        f"({int(out['n_10'])} clusters) ARI {float(out['ari_10']):.3f}"
    )


if __name__ == "__main__":
    main()
