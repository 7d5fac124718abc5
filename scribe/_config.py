"""Frozen, JSON-serializable configs: what ``fit`` was asked, validated once."""

import dataclasses
import math
from typing import Any

from .latent_priors import LATENT_PRIORS
from .likelihoods import MODELS
from .likelihoods._models import model_spec
from .parameterizations import PARAMETERIZATIONS, get_parameterization

INFERENCE_METHODS = ("svi", "mcmc", "vae")
NB_MODELS = ("nbdm", "zinb", "nbvcp", "zinbvcp")
TWO_STATE_MODELS = ("twostate", "twostatevcp")  # fitted by MCMC
VAE_MODELS = (*NB_MODELS, "lnm", "lnmvcp")


def _check_int(name: str, value: Any, *, low: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, found {type(value).__name__} ({value!r})")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, found {value}")


def _check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, found {value!r}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """The model: likelihood composition, parameterization, priors and guide family."""

    model: str = "nbvcp"
    parameterization: str = "canonical"
    unconstrained: bool = False
    priors: tuple[tuple[str, str], ...] = ()  # (name, description) of user priors
    guide_rank: int | None = None
    joint_params: tuple[str, ...] | None = None
    amortize_capture: bool = False
    latent_dim: int | None = None  # set: a VAE with a latent of this dimension
    latent_prior: str = "normal"
    library_size: bool = False
    encoder: str | None = None  # class name of a user's encoder (None: MLPEncoder)
    decoder: str | None = None  # class name of a user's decoder (None: MLPDecoder)

    def __post_init__(self):
        if not isinstance(self.model, str) or self.model not in MODELS:
            raise ValueError(f"model must be one of {sorted(MODELS)}, found {self.model!r}")
        fittable = (*NB_MODELS, *TWO_STATE_MODELS) if self.latent_dim is None else VAE_MODELS
        if self.model not in fittable:
            if self.model in VAE_MODELS:
                raise ValueError(
                    f"model {self.model!r} decodes each cell's composition from a latent: "
                    "fit it with inference_method='vae'"
                )
            raise NotImplementedError(
                f"model {self.model!r} cannot be fitted yet; fit supports {NB_MODELS}, "
                f"{TWO_STATE_MODELS} by MCMC, and as a VAE {VAE_MODELS}"
            )
        # Resolves aliases; raises a ValueError listing the valid names.
        canonical = get_parameterization(self.parameterization).name
        two_state = self.model in TWO_STATE_MODELS
        valid = PARAMETERIZATIONS[3:] if two_state else PARAMETERIZATIONS[:3]
        if canonical not in valid:
            raise ValueError(
                f"parameterization {self.parameterization!r} does not apply to model "
                f"{self.model!r}, which takes one of {valid}"
                + ("" if two_state else " (or their aliases)")
            )
        object.__setattr__(self, "parameterization", canonical)
        _check_bool("unconstrained", self.unconstrained)
        _check_bool("amortize_capture", self.amortize_capture)
        if self.guide_rank is not None:
            _check_int("guide_rank", self.guide_rank)
        if self.joint_params is not None:
            if self.guide_rank is None:
                raise ValueError("joint_params needs guide_rank (the rank of the joint guide)")
            if len(self.joint_params) < 2:
                raise ValueError(
                    f"joint_params must name at least 2 parameters, found {self.joint_params}"
                )
        if self.amortize_capture and not model_spec(self.model).variable_capture:
            raise ValueError(
                f"amortize_capture=True needs a variable-capture model, found {self.model!r}"
            )
        _check_bool("library_size", self.library_size)
        if self.latent_dim is None:
            if self.library_size or self.encoder or self.decoder:
                raise ValueError(
                    "library_size, encoder and decoder belong to a VAE (inference_method='vae')"
                )
            return
        _check_int("latent_dim", self.latent_dim)
        if self.latent_prior not in LATENT_PRIORS:
            raise ValueError(f"prior must be one of {LATENT_PRIORS}, found {self.latent_prior!r}")
        if self.parameterization != "canonical":
            raise ValueError(
                "a VAE decodes each cell's NB mean or composition and samples the NB sizes "
                "(and the LNM total's p) directly: parameterization does not apply (found "
                f"{self.parameterization!r})"
            )
        if self.amortize_capture:
            raise ValueError(
                "amortize_capture does not apply to a VAE: its encoder already outputs "
                "each cell's capture"
            )
        if self.library_size and model_spec(self.model).family == "lnm":
            raise ValueError(
                f"library_size=True does not apply to {self.model!r}: its multinomial is "
                "already conditioned on each cell's total, which an NB models"
            )
        if self.library_size and model_spec(self.model).variable_capture:
            raise ValueError(
                f"library_size=True conditions on each cell's observed total, which "
                f"replaces the capture of {self.model!r}; use a model without capture"
            )


@dataclasses.dataclass(frozen=True, kw_only=True)
class InferenceConfig:
    """How to fit: method, optimizer, minibatches, checkpoints."""

    method: str = "svi"
    n_steps: int = 25_000
    batch_size: int | None = None
    learning_rate: float = 0.01
    seed: int = 42
    steps_per_dispatch: int = 100
    checkpoint_every: int = 1_000
    early_stopping_patience: int | None = None
    early_stopping_min_delta: float = 1e-4
    kl_warmup_steps: int | None = None
    # MCMC (NUTS)
    n_samples: int = 2000
    n_warmup: int = 1000
    n_chains: int = 1
    target_accept_prob: float = 0.8
    max_tree_depth: int = 10
    dense_mass: bool = False

    def __post_init__(self):
        if self.method not in INFERENCE_METHODS:
            raise ValueError(
                f"inference_method must be one of {INFERENCE_METHODS}, found {self.method!r}"
            )
        _check_int("n_steps", self.n_steps)
        if self.batch_size is not None:
            _check_int("batch_size", self.batch_size)
        if isinstance(self.learning_rate, bool) or not isinstance(self.learning_rate, int | float):
            raise TypeError(f"learning_rate must be a float, found {self.learning_rate!r}")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be > 0 and finite, found {self.learning_rate}")
        _check_int("seed", self.seed, low=0)
        _check_int("steps_per_dispatch", self.steps_per_dispatch)
        _check_int("checkpoint_every", self.checkpoint_every)
        if self.checkpoint_every % self.steps_per_dispatch:
            raise ValueError(
                f"checkpoint_every ({self.checkpoint_every}) must be a multiple of "
                f"steps_per_dispatch ({self.steps_per_dispatch})"
            )
        if self.early_stopping_patience is not None:
            _check_int("early_stopping_patience", self.early_stopping_patience)
        if self.kl_warmup_steps is not None:
            _check_int("kl_warmup_steps", self.kl_warmup_steps, low=0)
        _check_int("n_samples", self.n_samples)
        _check_int("n_warmup", self.n_warmup, low=0)
        _check_int("n_chains", self.n_chains)
        _check_int("max_tree_depth", self.max_tree_depth)
        if self.max_tree_depth > 20:
            raise ValueError(f"max_tree_depth must be <= 20, found {self.max_tree_depth}")
        accept = self.target_accept_prob
        if isinstance(accept, bool) or not isinstance(accept, int | float):
            raise TypeError(f"target_accept_prob must be a float, found {accept!r}")
        if not 0 < accept < 1:
            raise ValueError(f"target_accept_prob must lie in (0, 1), found {accept}")
        _check_bool("dense_mass", self.dense_mass)


def to_json(config) -> dict:
    """A config as a JSON-ready dict (tuples become lists)."""
    return dataclasses.asdict(config)
