"""``FitConfig`` to and from JSON, and the configs scribe 0.1 wrote.

``CONFIG_FORMAT`` numbers the layout of the JSON. Format 1 (scribe 0.1.x) held two flat
dicts, ``model_config`` and ``inference_config``; format 2 is ``config_to_json`` of a
``FitConfig``. ``config_from_v1`` translates the first into the second: every setting of
format 1 has exactly one place in format 2.
"""

import dataclasses
from collections.abc import Mapping
from typing import Any

from ._fit_config import FitConfig
from ._methods import McmcConfig, SviConfig, VaeConfig
from ._model import ModelConfig

CONFIG_FORMAT = 2

# FitConfig fields that may change between a run and its resumption: the run's length
# and when it stops early. Every other field must match the checkpoint's.
RESUMABLE = ("n_steps", "svi.early_stopping_patience", "svi.early_stopping_min_delta")


def config_to_json(config: FitConfig) -> dict:
    """``config`` as nested JSON-ready dicts (tuples become lists on writing)."""
    return dataclasses.asdict(config)


def config_from_json(data: Mapping[str, Any]) -> FitConfig:
    """The inverse of ``config_to_json`` (validated again, as any config)."""
    data = dict(data)
    nested = {"model": ModelConfig, "svi": SviConfig, "vae": VaeConfig, "mcmc": McmcConfig}
    for name, cls in nested.items():
        if data.get(name) is not None:
            data[name] = cls(**_tuples(data[name]))
    return FitConfig(**data)


def resumable_view(config: FitConfig) -> dict:
    """``config_to_json(config)`` without the ``RESUMABLE`` fields: what a checkpoint of
    the same run must match."""
    data = config_to_json(config)
    for path in RESUMABLE:
        *parents, leaf = path.split(".")
        holder = data
        for parent in parents:
            holder = holder.get(parent) or {}
        holder.pop(leaf, None)
    return data


def config_from_v1(
    model_config: Mapping[str, Any], inference_config: Mapping[str, Any]
) -> FitConfig:
    """The ``FitConfig`` of a scribe 0.1 run, from its two format-1 dicts."""
    model = dict(model_config)
    inference = dict(inference_config)
    method = inference["method"]
    svi = vae = mcmc = None
    if method in ("svi", "vae"):
        svi = SviConfig(
            joint_params=_tuple(model.get("joint_params")),
            amortize_capture=model.get("amortize_capture", False),
            early_stopping_patience=inference.get("early_stopping_patience"),
            early_stopping_min_delta=inference.get("early_stopping_min_delta", 1e-4),
            steps_per_dispatch=inference.get("steps_per_dispatch"),
        )
    if method == "vae":
        vae = VaeConfig(
            prior=model.get("latent_prior", "normal"),
            library_size=model.get("library_size", False),
            kl_warmup_steps=inference.get("kl_warmup_steps"),
        )
    if method == "mcmc":
        mcmc = McmcConfig(
            target_accept_prob=inference.get("target_accept_prob", 0.8),
            max_tree_depth=inference.get("max_tree_depth", 10),
            dense_mass=inference.get("dense_mass", False),
        )
    return FitConfig(
        model=ModelConfig(
            model=model["model"],
            parameterization=model["parameterization"],
            unconstrained=model.get("unconstrained", False),
            priors=_tuples({"priors": model.get("priors", [])})["priors"],
        ),
        inference_method=method,
        n_steps=inference["n_steps"],
        batch_size=inference.get("batch_size"),
        learning_rate=inference["learning_rate"],
        seed=inference["seed"],
        guide_rank=model.get("guide_rank"),
        n_samples=inference.get("n_samples", 2000),
        n_warmup=inference.get("n_warmup", 1000),
        n_chains=inference.get("n_chains", 1),
        latent_dim=model.get("latent_dim"),
        encoder=model.get("encoder"),
        decoder=model.get("decoder"),
        checkpoint_every=inference["checkpoint_every"],
        svi=svi,
        vae=vae,
        mcmc=mcmc,
    )


def _tuple(value: Any) -> tuple | None:
    return None if value is None else tuple(value)


def _tuples(config: Mapping[str, Any]) -> dict:
    """JSON lists back to the tuples the frozen configs hold."""
    return {
        k: (tuple(tuple(x) if isinstance(x, list) else x for x in v) if isinstance(v, list) else v)
        for k, v in config.items()
    }
