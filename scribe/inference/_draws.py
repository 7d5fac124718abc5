"""``McmcDraws``: every chain's post-warmup draws and sampler statistics, on the host."""

import dataclasses
from collections.abc import Mapping

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
        Each per-cell latent (the capture coordinate), ``(chains, draws, cells)``.
    log_joint
        ``log p(globals, locals, counts)`` of each draw (constrained parameters, no
        Jacobian): ``get_map`` returns the draw where it is highest.
    diverging, num_steps, accept_prob
        Whether the trajectory diverged, its leapfrog steps, its acceptance probability.
    step_size
        Each chain's adapted step size, ``(chains,)``.
    max_tree_depth
        The NUTS tree-depth limit the run used.
    """

    globals_: dict[str, Float[np.ndarray, "chains draws ..."]]
    locals_: dict[str, Float[np.ndarray, "chains draws cells"]]
    log_joint: Float[np.ndarray, "chains draws"]
    diverging: np.ndarray
    num_steps: Int[np.ndarray, "chains draws"]
    accept_prob: Float[np.ndarray, "chains draws"]
    step_size: Float[np.ndarray, " chains"]
    max_tree_depth: int

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
    ) -> "McmcDraws":
        """Arrays of the final size (NaN / 0), filled block by block as a run goes."""
        lead = (n_chains, n_draws)
        return cls(
            globals_={n: np.full((*lead, *s), np.nan) for n, s in global_shapes.items()},
            locals_={n: np.full((*lead, n_cells), np.nan) for n in local_names},
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
        return fields

    @classmethod
    def from_arrays(cls, arrays: Mapping, *, max_tree_depth: int) -> "McmcDraws":
        """The inverse of ``arrays``, as numpy arrays."""

        def numpy(value):
            if isinstance(value, Mapping):
                return {n: np.asarray(v) for n, v in value.items()}
            return np.asarray(value)

        return cls(**{k: numpy(v) for k, v in arrays.items()}, max_tree_depth=max_tree_depth)

    def fill(self, start: int, block: Mapping, step_size: np.ndarray) -> None:
        """Write a block of records (leading axes ``(chains, block)``) at draw ``start``."""
        stop = start + np.shape(block["log_joint"])[1]
        for field in ("globals_", "locals_"):
            for name, values in block[field].items():
                getattr(self, field)[name][:, start:stop] = values
        for name in _STATISTICS:
            getattr(self, name)[:, start:stop] = block[name]
        self.step_size[:] = step_size

    def flat(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Globals and locals with chains and draws merged into one leading axis,
        chain by chain (draw ``i`` of chain ``c`` at ``c * n_draws + i``)."""

        def merge(values: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
            return {n: v.reshape(-1, *v.shape[2:]) for n, v in values.items()}

        return merge(self.globals_), merge(self.locals_)

    def best_index(self) -> int:
        """The flat index of the draw of highest log-joint."""
        return int(np.argmax(self.log_joint.reshape(-1)))

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
