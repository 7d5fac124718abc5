"""``ModelConfig``: the generative model a fit is asked for, validated once."""

import dataclasses

from ..likelihoods import MODELS
from ..likelihoods._models import model_spec
from ..parameterizations import MRNA_PER_CELL, PARAMETERIZATIONS, get_parameterization
from ..parameterizations._priors import HIERARCHY_KINDS, HIERARCHY_TARGETS
from ._checks import check_bool, check_optional_int, check_positive_float

CAPTURE_PRIORS = ("default", "biology")
# The sd of -log(capture) around log(M0 / total) (MATH.md; the original's code, not its docs).
DEFAULT_CAPTURE_SIGMA = 0.3
# Annotation confidence kappa (MATH.md: softmax(log pi + kappa * onehot)).
DEFAULT_ANNOTATION_CONFIDENCE = 3.0

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
    n_components
        K >= 2 for a K-component mixture (None: one component).
    mixture_params
        The global parameters that differ between components (None: all of them but
        the mixing weights); the capture is always per cell, shared by the components.
    annotation_key, annotation_confidence, annotation_component_order
        Annotation-guided mixture: the ``adata.obs`` column of per-cell labels (missing
        values: unlabelled), the nudge kappa of a labelled cell's weights
        (softmax(log pi + kappa onehot)), and the label of each component in order
        (None: the sorted labels; ``fit`` records the order it used).
    capture_prior, mrna_per_cell, capture_prior_sigma
        ``"default"`` (the parameterization's capture prior) or ``"biology"``:
        ``-log nu_c ~ TruncatedNormal(log M0 - log L_c, sigma, low=0)`` with
        ``M0 = mrna_per_cell`` molecules per cell (a number, or a preset of
        ``MRNA_PER_CELL``, stored as its number) and ``L_c`` the cell's total count.
    hierarchies
        ``(target, kind)`` pairs, sorted: each target global (``p``, ``phi``, ``gate``)
        gene-specific around a learned population value, under a ``"normal"``,
        ``"horseshoe"`` or ``"neg"`` hierarchy (``scribe.model.GeneHierarchy``).
    dataset_key, dataset_params, dataset_names
        Multi-dataset fit: the ``adata.obs`` column naming each cell's dataset, the
        globals with one copy per dataset (None: all but the hierarchies'), and the
        datasets in the order of their copies (``fit`` records the sorted values).
    """

    model: str = "nbvcp"
    parameterization: str | None = None
    unconstrained: bool = False
    priors: tuple[tuple[str, str], ...] = ()
    n_components: int | None = None
    mixture_params: tuple[str, ...] | None = None
    annotation_key: str | None = None
    annotation_confidence: float = DEFAULT_ANNOTATION_CONFIDENCE
    annotation_component_order: tuple[str, ...] | None = None
    capture_prior: str = "default"
    mrna_per_cell: float | None = None
    capture_prior_sigma: float = DEFAULT_CAPTURE_SIGMA
    hierarchies: tuple[tuple[str, str], ...] = ()
    dataset_key: str | None = None
    dataset_params: tuple[str, ...] | None = None
    dataset_names: tuple[str, ...] | None = None

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
        self._check_mixture()
        self._check_capture_prior()
        self._check_hierarchies()
        self._check_datasets()

    def _check_datasets(self) -> None:
        key, params = self.dataset_key, self.dataset_params
        if key is not None and not isinstance(key, str):
            raise TypeError(f"dataset_key must be an obs column name, found {key!r}")
        if params == "all":
            params = None
        if params is not None:
            params = (params,) if isinstance(params, str) else params
            if not params or not all(isinstance(n, str) for n in params):
                raise TypeError(
                    f"dataset_params must be 'all' or a non-empty sequence of parameter "
                    f"names, found {self.dataset_params!r}"
                )
            if key is None:
                raise ValueError("dataset_params needs dataset_key")
            params = tuple(params)
        object.__setattr__(self, "dataset_params", params)
        if key is not None and self.n_components is not None:
            raise ValueError(
                "dataset_key with n_components: a multi-dataset mixture is not supported "
                "(fit the mixture per dataset, or without dataset_key)"
            )
        if self.dataset_names is not None:
            object.__setattr__(self, "dataset_names", tuple(str(n) for n in self.dataset_names))

    def _check_hierarchies(self) -> None:
        pairs = self.hierarchies
        if isinstance(pairs, dict):
            pairs = tuple(pairs.items())
        try:
            pairs = tuple((str(t), str(k)) for t, k in pairs)
        except (TypeError, ValueError):
            raise TypeError(
                f"hierarchies must be (target, kind) pairs, found {self.hierarchies!r}"
            ) from None
        targets = [t for t, _ in pairs]
        repeated = sorted({t for t in targets if targets.count(t) > 1})
        if repeated:
            raise ValueError(f"{repeated} given more than one hierarchical prior")
        for target, kind in pairs:
            if target not in HIERARCHY_TARGETS:
                raise ValueError(
                    f"a hierarchical prior's target must be one of {sorted(HIERARCHY_TARGETS)}, "
                    f"found {target!r}"
                )
            if kind not in HIERARCHY_KINDS:
                raise ValueError(
                    f"the hierarchy on {target!r} must be one of {HIERARCHY_KINDS}, found {kind!r}"
                )
        object.__setattr__(self, "hierarchies", tuple(sorted(pairs)))

    def _check_mixture(self) -> None:
        check_optional_int("n_components", self.n_components, low=2)
        mixture = self.n_components is not None
        params = self.mixture_params
        if params == "all":
            params = None
        if params is not None:
            if isinstance(params, str):
                params = (params,)
            if not all(isinstance(n, str) for n in params) or not params:
                raise TypeError(
                    f"mixture_params must be 'all' or a non-empty sequence of parameter "
                    f"names, found {self.mixture_params!r}"
                )
            params = tuple(params)
        object.__setattr__(self, "mixture_params", params)
        if params is not None and not mixture:
            raise ValueError("mixture_params needs a mixture: pass n_components=K (K >= 2)")
        key, order = self.annotation_key, self.annotation_component_order
        if key is not None and not isinstance(key, str):
            raise TypeError(f"annotation_key must be an obs column name, found {key!r}")
        if key is not None and not mixture:
            raise ValueError("annotation_key guides a mixture: pass n_components=K (K >= 2)")
        check_positive_float("annotation_confidence", self.annotation_confidence)
        if order is not None:
            if key is None:
                raise ValueError("annotation_component_order needs annotation_key")
            order = tuple(str(label) for label in order)
            if len(set(order)) != len(order):
                raise ValueError(f"annotation_component_order repeats a label: {order}")
            if len(order) > self.n_components:
                raise ValueError(
                    f"annotation_component_order names {len(order)} labels for "
                    f"n_components={self.n_components} components"
                )
            object.__setattr__(self, "annotation_component_order", order)

    def _check_capture_prior(self) -> None:
        if self.capture_prior not in CAPTURE_PRIORS:
            raise ValueError(
                f"capture_prior must be one of {CAPTURE_PRIORS}, found {self.capture_prior!r}"
            )
        check_positive_float("capture_prior_sigma", self.capture_prior_sigma)
        m0 = self.mrna_per_cell
        if self.capture_prior == "default":
            if m0 is not None:
                raise ValueError("mrna_per_cell goes with capture_prior='biology'")
            return
        if not self.variable_capture:
            raise ValueError(
                f"capture_prior='biology' is a prior on each cell's capture; model "
                f"{self.model!r} has none"
            )
        if isinstance(m0, str):
            if m0 not in MRNA_PER_CELL:
                raise ValueError(
                    f"mrna_per_cell must be a number or one of {sorted(MRNA_PER_CELL)}, "
                    f"found {m0!r}"
                )
            m0 = MRNA_PER_CELL[m0]
        if m0 is None:
            raise ValueError(
                "capture_prior='biology' needs mrna_per_cell (molecules per cell, or one "
                f"of {sorted(MRNA_PER_CELL)})"
            )
        check_positive_float("mrna_per_cell", m0)
        object.__setattr__(self, "mrna_per_cell", float(m0))

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
