"""The scanpy half of ``mixture_nbvcp.py``, run in scanpy's own Python environment.

Run: ``PYTHON_WITH_SCANPY benchmarks/_scanpy_side.py IN.npz OUT.npz``. IN.npz holds a CSR
count matrix (``data``, ``indices``, ``indptr``, ``shape``) and ``labels``; OUT.npz gets
the ARI of Leiden clusters at resolution 1 (``ari_default``, ``n_default``) and at the
resolution, searched on a grid, whose cluster count is closest to 10 (``resolution_10``,
``n_10``, ``ari_10``), and scanpy's ``version``. The ARI is computed here with scanpy's
own dependency scikit-learn.
"""

import sys

import anndata
import numpy as np
import scanpy as sc
import scipy.sparse as sp
from sklearn.metrics import adjusted_rand_score


def main() -> None:
    inputs, outputs = sys.argv[1], sys.argv[2]
    with np.load(inputs) as f:
        counts = sp.csr_matrix((f["data"], f["indices"], f["indptr"]), shape=tuple(f["shape"]))
        labels = f["labels"]
    adata = anndata.AnnData(counts.astype(np.float32))
    sc.pp.normalize_total(adata, target_sum=1e4)
    sc.pp.log1p(adata)
    sc.pp.pca(adata, n_comps=50, random_state=0)
    sc.pp.neighbors(adata, n_neighbors=15, random_state=0)

    def leiden(resolution):
        sc.tl.leiden(
            adata,
            resolution=resolution,
            random_state=0,
            flavor="igraph",
            n_iterations=2,
            directed=False,
            key_added="leiden",
        )
        found = adata.obs["leiden"].to_numpy()
        return adjusted_rand_score(labels, found), len(set(found))

    ari_default, n_default = leiden(1.0)
    grid = [(r, *leiden(r)) for r in np.round(np.arange(0.2, 3.01, 0.1), 2)]
    resolution, ari_10, n_10 = min(grid, key=lambda g: (abs(g[2] - 10), g[0]))
    np.savez(
        outputs,
        ari_default=ari_default,
        n_default=n_default,
        resolution_10=resolution,
        ari_10=ari_10,
        n_10=n_10,
        version=np.asarray(sc.__version__),
    )


if __name__ == "__main__":
    main()
