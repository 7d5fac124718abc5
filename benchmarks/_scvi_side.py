"""The scVI half of ``vae_vs_scvi.py``, run by it in scVI's own Python environment.

Run: ``PYTHON_WITH_SCVI benchmarks/_scvi_side.py IN.npz OUT.npz [--epochs 100 ...]``
(``vae_vs_scvi.py`` does this; scribe is not imported here, nor torch in scribe's process).

IN.npz holds three CSR count matrices written by ``vae_vs_scvi.py`` (``train``,
``held_out``, ``pbmc``; each as ``NAME_data``, ``NAME_indices``, ``NAME_indptr``,
``NAME_shape``). OUT.npz gets ``train_seconds`` and ``train_cpu_seconds`` (``model.train`` only),
``held_out_log_likelihood`` (per held-out cell, nats, higher is better),
``pbmc_embeddings`` (posterior means of ``z``, one embedding per seed), ``pbmc_epochs``
and the versions of scvi-tools and torch.
"""

import argparse
import time

import anndata
import numpy as np
import scipy.sparse as sp
import scvi
import torch
from scvi.model._utils import get_max_epochs_heuristic


def _matrix(inputs, name: str) -> sp.csr_matrix:
    parts = (inputs[f"{name}_data"], inputs[f"{name}_indices"], inputs[f"{name}_indptr"])
    return sp.csr_matrix(parts, shape=tuple(inputs[f"{name}_shape"]))


def _model(adata: anndata.AnnData) -> scvi.model.SCVI:
    scvi.model.SCVI.setup_anndata(adata)
    model = scvi.model.SCVI(adata, n_latent=10, gene_likelihood="nb")
    # Library-size conditioning on the observed total (no library latent), as scribe's
    # library_size=True: the marginal likelihoods of the two are the same quantity.
    if not model.module.use_observed_lib_size:
        raise RuntimeError("scVI is expected to condition on the observed library size")
    return model


def _held_out_log_likelihood(inputs, args, options: dict) -> tuple[np.ndarray, tuple]:
    """Train on ``train`` (timed), score ``held_out``: per-cell nats, and the wall and
    CPU seconds of the training."""
    scvi.settings.seed = args.seed
    model = _model(anndata.AnnData(_matrix(inputs, "train").astype(np.float32)))
    start, start_cpu = time.perf_counter(), time.process_time()
    model.train(max_epochs=args.epochs, **options)
    seconds = time.perf_counter() - start, time.process_time() - start_cpu
    held_out = anndata.AnnData(_matrix(inputs, "held_out").astype(np.float32))
    scvi.model.SCVI.setup_anndata(held_out)
    # return_mean=True would average per-minibatch means (a smaller last batch weighs
    # as much as a full one); the per-cell values are averaged by the caller instead.
    per_cell = model.get_marginal_ll(held_out, n_mc_samples=args.samples, return_mean=False)
    return np.asarray(per_cell, dtype=np.float64), seconds


def _pbmc_embeddings(inputs, args, options: dict) -> tuple[np.ndarray, int]:
    """One embedding of ``pbmc`` per seed 0, 1 ..., with scVI's default epochs."""
    pbmc = anndata.AnnData(_matrix(inputs, "pbmc").astype(np.float32))
    epochs = get_max_epochs_heuristic(pbmc.n_obs)  # what train() picks when not told
    embeddings = []
    for seed in range(args.pbmc_seeds):
        scvi.settings.seed = seed
        model = _model(pbmc)
        model.train(max_epochs=epochs, **options)
        embeddings.append(model.get_latent_representation())
    return np.stack(embeddings), epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs")
    parser.add_argument("outputs")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pbmc-seeds", type=int, default=1, help="PBMC fits, seeds 0, 1 ...")
    args = parser.parse_args()
    inputs = np.load(args.inputs)
    # train_size=1.0: every training cell is trained on, as scribe's are (scVI's default
    # keeps 10% of them back for validation).
    options = dict(
        batch_size=args.batch_size, train_size=1.0, accelerator="cpu", enable_progress_bar=False
    )
    per_cell, seconds = _held_out_log_likelihood(inputs, args, options)
    embeddings, epochs = _pbmc_embeddings(inputs, args, options)
    np.savez(
        args.outputs,
        train_seconds=seconds[0],
        train_cpu_seconds=seconds[1],
        held_out_log_likelihood=per_cell,
        pbmc_embeddings=embeddings,
        pbmc_epochs=epochs,
        scvi_version=scvi.__version__,
        torch_version=torch.__version__,
        torch_threads=torch.get_num_threads(),
    )


if __name__ == "__main__":
    main()
