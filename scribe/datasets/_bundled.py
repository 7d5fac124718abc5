"""Small real count matrices shipped inside the package, readable offline.

Every file holds raw integer UMI counts (int32 CSR) in ``X``, cells × genes. Origins and
licences are recorded in each loader's docstring; the upstream 10x Genomics datasets are
published under CC BY 4.0 and the extracted files come from BSD-3 packages.
"""

from __future__ import annotations

from importlib.resources import as_file, files

import anndata

# name -> (file, one-line summary). The loaders below are the documented entry points.
_FILES = {
    "mouse_10x_10k_subset": (
        "scanpy_10x_10k_subset.h5ad",
        "10x mouse cells, 10000 cells × 1000 genes (1 empty cell, 285 all-zero genes)",
    ),
    "pbmc68k_reduced": (
        "scanpy_pbmc68k_reduced_counts.h5ad",
        "10x PBMC 68k subset, 700 cells × 765 genes, obs['bulk_labels'] cell types",
    ),
    "pbmc_5k_protein": (
        "scvi_pbmc_5k_protein_v3.h5ad",
        "10x PBMC 5k (v3 chemistry), 200 cells × 16581 genes (2640 all-zero genes)",
    ),
    "pbmc_10k_protein": (
        "scvi_pbmc_10k_protein_v3.h5ad",
        "10x PBMC 10k (v3 chemistry), 200 cells × 16727 genes (3357 all-zero genes)",
    ),
}


def available() -> dict[str, str]:
    """The bundled datasets: loader name -> one-line description.

    Returns
    -------
    A new dict; call ``getattr(scribe.datasets, name)()`` to load one.

    Examples
    --------
    >>> from scribe.datasets import available
    >>> sorted(available())
    ['mouse_10x_10k_subset', 'pbmc68k_reduced', 'pbmc_10k_protein', 'pbmc_5k_protein']
    """
    return {name: summary for name, (_, summary) in _FILES.items()}


def _read(name: str) -> anndata.AnnData:
    filename, _ = _FILES[name]
    # as_file gives a real path even if the package is imported from a zip archive.
    with as_file(files(__package__) / "_data" / filename) as path:
        return anndata.read_h5ad(path)


def mouse_10x_10k_subset() -> anndata.AnnData:
    """10,000 mouse cells × 1,000 genes of 10x Chromium UMI counts.

    Origin: scanpy 1.12.4 source distribution, ``tests/_data/10x-10k-subset.zarr`` (the
    first 1000 genes in reference order). 93% zeros; UMI per cell min/median/max
    0 / 137 / 1690. One cell and 285 genes have no counts, so
    ``load_counts(mouse_10x_10k_subset()).drop_empty()`` is 9,999 × 715.
    Licence: BSD-3 (scanpy); upstream 10x Genomics data CC BY 4.0.

    Returns
    -------
    A new in-memory AnnData (each call reads the file again) with int32 CSR counts in X.

    Examples
    --------
    >>> from scribe.datasets import mouse_10x_10k_subset
    >>> mouse_10x_10k_subset().shape
    (10000, 1000)
    """
    return _read("mouse_10x_10k_subset")


def pbmc68k_reduced() -> anndata.AnnData:
    """700 human PBMCs × 765 genes with cell-type labels.

    Origin: scanpy wheel, ``datasets/10x_pbmc68k_reduced.h5ad``; integer counts rebuilt as
    ``round(expm1(raw.X) * n_counts / 1e4)``. ``obs["bulk_labels"]`` holds 10 cell-type
    labels. 67% zeros; UMI per cell 342 / 653 / 1654. No empty cells or genes.
    Licence: BSD-3 (scanpy); upstream 10x Genomics data CC BY 4.0.

    Returns
    -------
    A new in-memory AnnData with int32 CSR counts in X.

    Examples
    --------
    >>> from scribe.datasets import pbmc68k_reduced
    >>> pbmc68k_reduced().obs["bulk_labels"].nunique()
    10
    """
    return _read("pbmc68k_reduced")


def pbmc_5k_protein() -> anndata.AnnData:
    """200 human PBMCs × 16,581 genes from 10x PBMC 5k (v3 chemistry), RNA counts only.

    Origin: scvi-tools 1.5.1 source distribution, ``tests/test_data/pbmc_5k_protein_v3.h5ad``.
    88% zeros; UMI per cell 1060 / 5962 / 19471; 2640 all-zero genes.
    Licence: BSD-3 (scvi-tools); upstream 10x Genomics data CC BY 4.0.

    Returns
    -------
    A new in-memory AnnData with int32 CSR counts in X.

    Examples
    --------
    >>> from scribe.datasets import pbmc_5k_protein
    >>> pbmc_5k_protein().shape
    (200, 16581)
    """
    return _read("pbmc_5k_protein")


def pbmc_10k_protein() -> anndata.AnnData:
    """200 human PBMCs × 16,727 genes from 10x PBMC 10k (v3 chemistry), RNA counts only.

    Origin: scvi-tools 1.5.1 source distribution,
    ``tests/test_data/pbmc_10k_protein_v3.h5ad``. 91% zeros; UMI per cell
    919 / 3932 / 15680; 3357 all-zero genes.
    Licence: BSD-3 (scvi-tools); upstream 10x Genomics data CC BY 4.0.

    Returns
    -------
    A new in-memory AnnData with int32 CSR counts in X.

    Examples
    --------
    >>> from scribe.datasets import pbmc_10k_protein
    >>> pbmc_10k_protein().shape
    (200, 16727)
    """
    return _read("pbmc_10k_protein")
