"""``scribe.fit`` with checkpoints, run in a subprocess by the SIGKILL test.

``python _fit_child.py COUNTS.npy DIRECTORY N_STEPS EVERY RESULT.npz`` fits nbvcp on
minibatches to the counts, checkpointing to DIRECTORY every EVERY steps and resuming from
its newest checkpoint if there is one, then writes the MAP estimates and the loss history
to RESULT.npz.
"""

import sys

import numpy as np

import scribe

BATCH_SIZE = 16


def main(counts: str, directory: str, n_steps: int, every: int, result: str) -> None:
    results = scribe.fit(
        np.load(counts),
        model="nbvcp",
        batch_size=BATCH_SIZE,
        n_steps=n_steps,
        seed=7,
        checkpoint_dir=directory,
        checkpoint_every=every,
        resume=True,
        progress=False,
    )
    arrays = {name: np.asarray(value) for name, value in results.get_map().items()}
    np.savez(result, loss_history=results.loss_history, **arrays)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
