"""The user's words -> a ``FitConfig``: model spellings, defaults that depend on other
options, and the options that moved into the method configs."""

from typing import Any

from ..config import (
    TWO_STATE_MODELS,
    FitConfig,
    McmcConfig,
    ModelConfig,
    SviConfig,
    VaeConfig,
    describe_priors,
)
from ..decoders import AbstractDecoder
from ..encoders import AbstractEncoder
from ..likelihoods._models import model_spec

# Keywords ``fit`` took before the method configs, and the config that holds each now.
MOVED = {
    "joint_params": SviConfig,
    "amortize_capture": SviConfig,
    "early_stopping_patience": SviConfig,
    "prior": VaeConfig,
    "library_size": VaeConfig,
    "target_accept_prob": McmcConfig,
    "max_tree_depth": McmcConfig,
    "dense_mass": McmcConfig,
}
_CONFIG_ARGUMENT = {SviConfig: "svi", VaeConfig: "vae", McmcConfig: "mcmc"}


def refuse_unknown(options: dict[str, Any]) -> None:
    """A ``TypeError`` for keywords ``fit`` does not take, saying where moved ones went."""
    if not options:
        return
    name = sorted(options)[0]
    if name in MOVED:
        cls = MOVED[name]
        raise TypeError(
            f"fit() takes {name} in its {_CONFIG_ARGUMENT[cls]} config: pass "
            f"{_CONFIG_ARGUMENT[cls]}=scribe.{cls.__name__}({name}={options[name]!r})"
        )
    if name in ("model_config", "inference_config"):
        raise TypeError(
            f"fit() no longer takes {name}: pass its settings as keywords (model=, "
            "n_steps=, ...) and the method's own in svi=, vae= or mcmc= (scribe.SviConfig, "
            "scribe.VaeConfig, scribe.McmcConfig)"
        )
    raise TypeError(f"fit() got an unexpected keyword argument {name!r}")


def resolve_model(model: Any, zero_inflation: Any, variable_capture: Any) -> str:
    """Apply ``zero_inflation`` / ``variable_capture`` to a model name."""
    if not isinstance(model, str):
        raise TypeError(f"model must be a str, found {type(model).__name__}")
    for name, flag in (("zero_inflation", zero_inflation), ("variable_capture", variable_capture)):
        if flag is not None and not isinstance(flag, bool):
            raise TypeError(f"{name} must be True, False or None, found {flag!r}")
    if model in TWO_STATE_MODELS:
        if zero_inflation:
            raise ValueError(f"model {model!r} has no zero-inflated form; zero_inflation=True")
        vcp = model == "twostatevcp" if variable_capture is None else variable_capture
        return "twostatevcp" if vcp else "twostate"
    if model not in ("nbdm", "zinb", "nbvcp", "zinbvcp"):
        return model
    spec = model_spec(model)
    zi = spec.zero_inflated if zero_inflation is None else zero_inflation
    vcp = spec.variable_capture if variable_capture is None else variable_capture
    return {(False, False): "nbdm", (True, False): "zinb", (False, True): "nbvcp"}.get(
        (zi, vcp), "zinbvcp"
    )


def latent_size(encoder: Any) -> int:
    """The ``n_latent`` a user's encoder declares (the VAE's default ``latent_dim``)."""
    if not isinstance(encoder, AbstractEncoder):
        raise TypeError(
            f"encoder must implement scribe.encoders.AbstractEncoder, found "
            f"{type(encoder).__name__}"
        )
    size = getattr(encoder, "n_latent", None)
    if not isinstance(size, int):
        raise TypeError(
            f"encoder {type(encoder).__name__} must say the size of its latent in an int "
            f"attribute n_latent, found {size!r}"
        )
    return size


def hierarchy_pairs(hierarchical: Any, horseshoe: Any) -> tuple[tuple[str, str], ...]:
    """``fit``'s ``hierarchical=`` (targets, or a mapping target -> kind) and
    ``horseshoe=`` (targets) as the ``(target, kind)`` pairs of ``ModelConfig``."""

    def targets(name: str, value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        if not all(isinstance(t, str) for t in value):
            raise TypeError(f"{name} must be parameter names, found {value!r}")
        return tuple(value)

    if isinstance(hierarchical, dict):
        pairs = dict(hierarchical)
    else:
        pairs = dict.fromkeys(targets("hierarchical", hierarchical), "normal")
    for target in targets("horseshoe", horseshoe):
        if target in pairs:
            raise ValueError(
                f"{target!r} is in both hierarchical and horseshoe: give each target one prior"
            )
        pairs[target] = "horseshoe"
    return tuple(pairs.items())


def fit_config(
    *,
    model: str,
    zero_inflation: bool | None,
    variable_capture: bool | None,
    parameterization: str | None,
    unconstrained: bool,
    priors: dict,
    inference_method: str,
    latent_dim: int | None,
    encoder: Any,
    decoder: Any,
    model_options: dict | None = None,
    **settings: Any,
) -> FitConfig:
    """The ``FitConfig`` of ``fit``'s keywords (``settings``: the ones that are config
    fields as they are)."""
    if decoder is not None and not isinstance(decoder, AbstractDecoder):
        raise TypeError(
            f"decoder must implement scribe.decoders.AbstractDecoder, found "
            f"{type(decoder).__name__}"
        )
    if encoder is not None:
        size = latent_size(encoder)
        if inference_method == "vae" and latent_dim is None:
            latent_dim = size
    return FitConfig(
        model=ModelConfig(
            model=resolve_model(model, zero_inflation, variable_capture),
            parameterization=parameterization,
            unconstrained=unconstrained,
            priors=describe_priors(priors),
            **(model_options or {}),
        ),
        inference_method=inference_method,
        latent_dim=latent_dim,
        encoder=None if encoder is None else type(encoder).__name__,
        decoder=None if decoder is None else type(decoder).__name__,
        **settings,
    )
