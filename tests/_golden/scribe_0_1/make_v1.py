"""Write scribe 0.1 (format 1) results and a training checkpoint, with the values the
old code reports, for ``tests/test_compatibility.py``.

Run with scribe 0.1.0 (commit db116d0) importable: ``python make_v1.py OUT_DIR [FIT ...]``
(only the named fits of ``FITS``, and no checkpoint, when fits are named).
"""

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import numpyro.distributions as dist

import scribe

FITS = {
    "svi": dict(
        model="nbvcp",
        parameterization="mean_odds",
        priors={"mu": dist.LogNormal(1.0, 2.0)},
        guide_rank=1,
        n_steps=30,
    ),
    "vae": dict(model="nbdm", inference_method="vae", latent_dim=2, n_steps=30),
    "mcmc": dict(model="nbvcp", inference_method="mcmc", n_warmup=20, n_samples=10, n_chains=2),
    "amortized": dict(model="nbvcp", amortize_capture=True, n_steps=30),
    # the default guide: mean-field, with Beta factors saved as (log a, log b)
    "meanfield": dict(model="zinb", n_steps=30),
}


def main(out: Path, names: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    counts = rng.negative_binomial(np.array([2.0, 4.0, 1.0, 6.0, 3.0]), 0.4, (24, 5))
    counts[:, 0] += 1
    np.save(out / "counts.npy", counts)
    expected = {"scribe_version": scribe.__version__}
    for name, kwargs in FITS.items():
        if names and name not in names:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results = scribe.fit(counts, seed=3, progress=False, **kwargs)
        results.save(out / f"results_{name}")
        point = {k: np.asarray(v).tolist() for k, v in results.get_map().items()}
        entry = {"map": point, "loss_history": results.loss_history.tolist()}
        if results.is_vae:
            entry["embeddings"] = results.get_latent_embeddings().tolist()
        expected[name] = entry
    if names:
        (out / "expected.json").write_text(json.dumps(expected, indent=1))
        return
    scribe.fit(
        counts,
        model="nbdm",
        n_steps=20,
        checkpoint_every=10,
        seed=3,
        progress=False,
        checkpoint_dir=out / "checkpoint_svi",
    )
    (out / "expected.json").write_text(json.dumps(expected, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
