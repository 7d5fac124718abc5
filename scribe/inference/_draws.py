"""``McmcDraws``: every chain's post-warmup draws and sampler statistics, on the host."""

import dataclasses
from collections.abc import Mapping

import jax
import numpy as np
from jaxtyping import Float, Int

_STATISTICS = ("log_joint", "diverging", "num_steps", "accept_prob")


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class McmcDraws:
    """Post-warmup draws of every chain, leading axes ``(chains, draws)``.

    Attributes
    ----------
    globals_
        Each global's sampled coordinate (and ``gate``) on its domain,
        ``(chains, draws, *shape)``.
    locals_
        Each per-cell latent (the capture coordinate), ``(chains, draws, cells)``; empty
        when the run kept a summary of them instead (``cells``).
    log_joint
        ``log p(globals, locals, counts)`` of each draw (constrained parameters, no
        Jacobian): ``get_map`` returns the draw where it is highest.
    diverging, num_steps, accept_prob
        Whether the trajectory diverged, its leapfrog steps, its acceptance probability.
    step_size
        Each chain's adapted step size, ``(chains,)``.
    max_tree_depth
        The NUTS tree-depth limit the run used.
    cells
        With ``McmcConfig(keep_cell_draws=False)``: per chain, the ``CellSummary`` arrays
        of the per-cell latents (``total``, ``total_sq``, ``n_draws``,
        ``best_log_joint``, ``at_best``), leading axis the chain; else None.
    """

    globals_: dict[str, Float[np.ndarray, "chains draws ..."]]
    locals_: dict[str, Float[np.ndarray, "chains draws cells"]]
    log_joint: Float[np.ndarray, "chains draws"]
    diverging: np.ndarray
    num_steps: Int[np.ndarray, "chains draws"]
    accept_prob: Float[np.ndarray, "chains draws"]
    step_size: Float[np.ndarray, " chains"]
    max_tree_depth: int
    cells: dict | None = None

    @classmethod
    def empty(
        cls,
        global_shapes: Mapping[str, tuple[int, ...]],
        local_names: tuple[str, ...],
        *,
        n_chains: int,
        n_draws: int,
        n_cells: int,
        max_tree_depth: int,
        keep_cell_draws: bool = True,
    ) -> "McmcDraws":
        """Arrays of the final size (NaN / 0), filled block by block as a run goes
        (without ``keep_cell_draws``, a summary of no draws of the per-cell latents)."""
        lead = (n_chains, n_draws)
        kept = local_names if keep_cell_draws else ()
        cells = None
        if local_names and not keep_cell_draws:

            def zeros():
                return {n: np.zeros((n_chains, n_cells)) for n in local_names}

            cells = {
                "total": zeros(),
                "total_sq": zeros(),
                "n_draws": np.zeros(n_chains, np.int32),
                "best_log_joint": np.full(n_chains, -np.inf),
                "at_best": zeros(),
            }
        return cls(
            globals_={n: np.full((*lead, *s), np.nan) for n, s in global_shapes.items()},
            locals_={n: np.full((*lead, n_cells), np.nan) for n in kept},
            cells=cells,
            log_joint=np.full(lead, np.nan),
            diverging=np.zeros(lead, bool),
            num_steps=np.zeros(lead, np.int64),
            accept_prob=np.full(lead, np.nan),
            step_size=np.full(n_chains, np.nan),
            max_tree_depth=max_tree_depth,
        )

    @property
    def n_chains(self) -> int:
        """Number of chains."""
        return self.log_joint.shape[0]

    @property
    def n_draws(self) -> int:
        """Post-warmup draws per chain."""
        return self.log_joint.shape[1]

    def arrays(self) -> dict:
        """Every array by field name (what a checkpoint or ``save`` stores)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        del fields["max_tree_depth"]
        if fields["cells"] is None:  # the layout of runs that keep every cell draw
            del fields["cells"]
        return fields

    @classmethod
    def from_arrays(cls, arrays: Mapping, *, max_tree_depth: int) -> "McmcDraws":
        """The inverse of ``arrays``, as numpy arrays."""

        def numpy(value):
            if isinstance(value, Mapping):
                return {n: numpy(v) for n, v in value.items()}
            return np.asarray(value)

        return cls(**{k: numpy(v) for k, v in arrays.items()}, max_tree_depth=max_tree_depth)

    def fill(
        self,
        start: int,
        block: Mapping,
        step_size: np.ndarray,
        cells: Mapping | None = None,
    ) -> None:
        """Write a block of records (leading axes ``(chains, block)``) at draw ``start``,
        and the per-cell summary after it (``keep_cell_draws=False``)."""
        stop = start + np.shape(block["log_joint"])[1]
        for field in ("globals_", "locals_"):
            for name, values in block[field].items():
                getattr(self, field)[name][:, start:stop] = values
        for name in _STATISTICS:
            getattr(self, name)[:, start:stop] = block[name]
        self.step_size[:] = step_size
        if cells is not None:
            object.__setattr__(self, "cells", jax.tree.map(np.asarray, dict(cells)))

    def flat(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Globals and locals with chains and draws merged into one leading axis,
        chain by chain (draw ``i`` of chain ``c`` at ``c * n_draws + i``)."""

        def merge(values: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
            return {n: v.reshape(-1, *v.shape[2:]) for n, v in values.items()}

        return merge(self.globals_), merge(self.locals_)

    def best_index(self) -> int:
        """The flat index of the draw of highest log-joint."""
        return int(np.argmax(self.log_joint.reshape(-1)))

    @property
    def keeps_cell_draws(self) -> bool:
        """Whether every draw of the per-cell latents is kept (else their summary)."""
        return self.cells is None

    def best_locals(self) -> dict[str, np.ndarray]:
        """The per-cell latents at the draw of highest log-joint (``best_index``)."""
        best = self.best_index()
        if self.cells is None:
            return {n: v.reshape(-1, v.shape[-1])[best] for n, v in self.locals_.items()}
        chain = best // self.n_draws
        return {n: v[chain] for n, v in self.cells["at_best"].items()}

    def cell_moments(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Each per-cell latent's posterior mean and standard deviation over every draw
        of every chain, ``(cells,)`` each (from the summary, or from the draws)."""
        if self.cells is None:
            return {
                n: (v.mean(axis=(0, 1)), v.reshape(-1, v.shape[-1]).std(axis=0, ddof=1))
                for n, v in self.locals_.items()
            }
        n = float(np.sum(self.cells["n_draws"]))
        moments = {}
        for name, total in self.cells["total"].items():
            mean = total.sum(axis=0) / n
            square = self.cells["total_sq"][name].sum(axis=0)
            variance = np.maximum(square - n * mean**2, 0.0) / max(n - 1.0, 1.0)
            moments[name] = (mean, np.sqrt(variance))
        return moments

    def subset_genes(self, genes: Int[np.ndarray, " kept"], per_gene: set[str]) -> "McmcDraws":
        """These draws with each per-gene global (``per_gene`` names) at ``genes``."""
        globals_ = {n: (v[..., genes] if n in per_gene else v) for n, v in self.globals_.items()}
        return dataclasses.replace(self, globals_=globals_)

    def sampler_statistics(self) -> dict:
        """Per chain: divergences, trees at the depth limit, step size, mean acceptance."""
        depth = np.ceil(np.log2(self.num_steps.astype(np.float64) + 1.0))
        return {
            "n_chains": self.n_chains,
            "n_draws": self.n_draws,
            "divergences": self.diverging.sum(axis=1).tolist(),
            "tree_depth_saturated": (depth >= self.max_tree_depth).sum(axis=1).tolist(),
            "max_tree_depth": self.max_tree_depth,
            "step_size": self.step_size.tolist(),
            "mean_accept_prob": self.accept_prob.mean(axis=1).tolist(),
        }
