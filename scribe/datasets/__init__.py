"""Small real UMI count datasets bundled with scribe, loaded offline as AnnData."""

from ._bundled import available as available
from ._bundled import mouse_10x_10k_subset as mouse_10x_10k_subset
from ._bundled import pbmc68k_reduced as pbmc68k_reduced
from ._bundled import pbmc_5k_protein as pbmc_5k_protein
from ._bundled import pbmc_10k_protein as pbmc_10k_protein
