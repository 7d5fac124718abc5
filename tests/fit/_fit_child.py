"""``scribe.fit`` with checkpoints, run in a subprocess by the SIGKILL test.

``python _fit_child.py COUNTS.npy DIRECTORY N_STEPS EVERY RESULT.npz METHOD`` fits nbvcp
(METHOD "svi", or "vae" with a 2-D latent, on minibatches; or "mcmc": two NUTS chains of
N_STEPS iterations, half of them warmup) to the counts, checkpointing to DIRECTORY every
EVERY steps and resuming from its newest checkpoint if there is one, then writes the MAP
estimates (and a VAE's embeddings, or every MCMC draw and sampler statistic) and the loss
history to RESULT.npz.
"""

import sys

import numpy as np

import scribe

BATCH_SIZE = 16


def main(counts: str, directory: str, n_steps: int, every: int, result: str, method: str):
    options = {"batch_size": BATCH_SIZE, "n_steps": n_steps}
    if method == "vae":
        options |= {"inference_method": "vae", "latent_dim": 2}
    if method == "mcmc":
        half = n_steps // 2
        options = {"inference_method": "mcmc", "n_warmup": half, "n_samples": n_steps - half}
        options |= {"n_chains": 2}
    results = scribe.fit(
        np.load(counts),
        model="nbvcp",
        seed=7,
        checkpoint_dir=directory,
        checkpoint_every=every,
        resume=True,
        progress=False,
        **options,
    )
    arrays = {name: np.asarray(value) for name, value in results.get_map().items()}
    if results.is_vae:
        arrays["z"] = results.get_latent_embeddings()
    if results.is_mcmc:
        flat = {**results.draws.globals_, **results.draws.locals_, **results.draws.arrays()}
        arrays |= {f"draws_{k}": v for k, v in flat.items() if not isinstance(v, dict)}
    np.savez(result, loss_history=results.loss_history, **arrays)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), *sys.argv[5:7])
