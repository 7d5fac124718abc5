"""``ModelConfig``: the generative model a fit is asked for, validated once."""

import dataclasses

from ..likelihoods import MODELS
from ..likelihoods._models import model_spec
from ..parameterizations import PARAMETERIZATIONS, get_parameterization
from ._checks import check_bool

NB_MODELS = ("nbdm", "zinb", "nbvcp", "zinbvcp")
TWO_STATE_MODELS = ("twostate", "twostatevcp")  # fitted by MCMC
LNM_MODELS = ("lnm", "lnmvcp")  # fitted as a VAE
VAE_MODELS = (*NB_MODELS, *LNM_MODELS)
FITTABLE_MODELS = (*NB_MODELS, *TWO_STATE_MODELS, *LNM_MODELS)
NB_PARAMETERIZATIONS = PARAMETERIZATIONS[:3]
TWO_STATE_PARAMETERIZATIONS = PARAMETERIZATIONS[3:]


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """The generative model: likelihood composition, parameterization and priors.

    Parameters
    ----------
    model
        A model name (``scribe.likelihoods.MODELS``): nbdm, zinb, nbvcp (default),
        zinbvcp; twostate, twostatevcp (MCMC); lnm, lnmvcp (VAE).
    parameterization
        canonical, mean_prob, mean_odds (or the aliases standard, linked, odds_ratio)
        for the NB family; two_state_natural, two_state_ratio, two_state_mean_fano or
        two_state_moment_delta for the two-state models. None: canonical, or
        two_state_natural for the two-state models. Aliases are stored by their
        canonical name.
    unconstrained
        Normal(0, 1) priors on unconstrained coordinates instead of Beta / LogNormal /
        BetaPrime.
    priors
        ``(name, description)`` of each user prior (``fit``'s ``priors=``), sorted by
        name; the distributions themselves travel beside the config.
    """

    model: str = "nbvcp"
    parameterization: str | None = None
    unconstrained: bool = False
    priors: tuple[tuple[str, str], ...] = ()

    def __post_init__(self):
        if not isinstance(self.model, str) or self.model not in MODELS:
            raise ValueError(f"model must be one of {sorted(MODELS)}, found {self.model!r}")
        if self.model not in FITTABLE_MODELS:
            raise NotImplementedError(
                f"model {self.model!r} cannot be fitted yet; fit supports {NB_MODELS}, "
                f"{TWO_STATE_MODELS} by MCMC, and as a VAE {VAE_MODELS}"
            )
        two_state = self.model in TWO_STATE_MODELS
        name = self.parameterization
        if name is None:
            name = TWO_STATE_PARAMETERIZATIONS[0] if two_state else NB_PARAMETERIZATIONS[0]
        # Resolves aliases; raises a ValueError listing the valid names.
        canonical = get_parameterization(name).name
        valid = TWO_STATE_PARAMETERIZATIONS if two_state else NB_PARAMETERIZATIONS
        if canonical not in valid:
            raise ValueError(
                f"parameterization {name!r} does not apply to model {self.model!r}, which "
                f"takes one of {valid}" + ("" if two_state else " (or their aliases)")
            )
        object.__setattr__(self, "parameterization", canonical)
        check_bool("unconstrained", self.unconstrained)
        object.__setattr__(self, "priors", tuple(tuple(p) for p in self.priors))

    @property
    def zero_inflated(self) -> bool:
        """Whether the model has a zero-inflation gate."""
        return model_spec(self.model).zero_inflated

    @property
    def variable_capture(self) -> bool:
        """Whether each cell has a capture probability."""
        return model_spec(self.model).variable_capture

    @property
    def family(self) -> str:
        """The base count family (``"nb"``, ``"two_state"``, ``"lnm"``)."""
        return model_spec(self.model).family
