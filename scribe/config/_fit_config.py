"""``FitConfig``: everything ``scribe.fit`` was asked, typed, validated and JSON-ready."""

import dataclasses
import math

from ._checks import (
    check_choice,
    check_config,
    check_int,
    check_optional_int,
    check_positive_float,
)
from ._methods import McmcConfig, SviConfig, VaeConfig
from ._model import LNM_MODELS, NB_MODELS, TWO_STATE_MODELS, VAE_MODELS, ModelConfig

INFERENCE_METHODS = ("svi", "vae", "mcmc")
DEFAULT_LATENT_DIM = 10
# The longest scanned chunk of SVI steps between two returns to Python.
MAX_STEPS_PER_DISPATCH = 100
# Which method config each method reads.
_METHOD_CONFIGS = {"svi": ("svi",), "vae": ("svi", "vae"), "mcmc": ("mcmc",)}


@dataclasses.dataclass(frozen=True, kw_only=True)
class FitConfig:
    """One fit's settings: the model, the method and the method's own config.

    The fields mirror ``scribe.fit``'s keywords (see its docstring for each); ``fit``
    builds this config once, before reading any data, and saves it with every checkpoint
    and with saved results. Fields that do not apply to ``inference_method`` keep their
    defaults; method configs that do not apply are None, and the ones that do default to
    their class's defaults.

    Parameters
    ----------
    model
        The generative model.
    inference_method
        ``"svi"``, ``"vae"`` or ``"mcmc"``.
    n_steps, batch_size, learning_rate, guide_rank
        SVI and VAE: optimisation steps, cells per minibatch (None: all), Adam's step
        size, the rank of a low-rank guide (None: mean-field).
    seed
        Seed of every random choice of the fit.
    n_samples, n_warmup, n_chains
        MCMC: post-warmup iterations per chain, warmup iterations per chain, chains.
    latent_dim
        VAE: the dimension of each cell's latent ``z`` (default 10).
    encoder, decoder
        VAE: the class name of a user-built encoder / decoder (None: scribe's default,
        which ``load`` rebuilds by itself).
    checkpoint_every
        Steps (MCMC: iterations) between two checkpoints.
    svi, vae, mcmc
        The method configs (``SviConfig`` for SVI and the VAE, ``VaeConfig``,
        ``McmcConfig``).

    Examples
    --------
    >>> import scribe
    >>> config = scribe.FitConfig(inference_method="vae", vae=scribe.VaeConfig(prior="maf"))
    >>> config.latent_dim, config.svi.steps_per_dispatch, config.mcmc is None
    (10, 100, True)
    """

    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    inference_method: str = "svi"
    n_steps: int = 25_000
    batch_size: int | None = None
    learning_rate: float = 0.01
    seed: int = 42
    guide_rank: int | None = None
    n_samples: int = 2000
    n_warmup: int = 1000
    n_chains: int = 1
    latent_dim: int | None = None
    encoder: str | None = None
    decoder: str | None = None
    checkpoint_every: int = 1_000
    svi: SviConfig | None = None
    vae: VaeConfig | None = None
    mcmc: McmcConfig | None = None

    def __post_init__(self):
        check_config("model", self.model, ModelConfig)
        check_choice("inference_method", self.inference_method, INFERENCE_METHODS)
        self._check_common()
        self._fill_method_configs()
        method = self.inference_method
        {"svi": self._check_svi, "vae": self._check_vae, "mcmc": self._check_mcmc}[method]()
        if method != "mcmc":
            self._check_optimisation()

    def _check_common(self) -> None:
        check_int("n_steps", self.n_steps)
        check_optional_int("batch_size", self.batch_size)
        check_positive_float("learning_rate", self.learning_rate)
        check_int("seed", self.seed, low=0)
        check_optional_int("guide_rank", self.guide_rank)
        check_int("n_samples", self.n_samples)
        check_int("n_warmup", self.n_warmup, low=0)
        check_int("n_chains", self.n_chains)
        check_int("checkpoint_every", self.checkpoint_every)
        check_optional_int("latent_dim", self.latent_dim)

    def _fill_method_configs(self) -> None:
        used = _METHOD_CONFIGS[self.inference_method]
        for name, cls in (("svi", SviConfig), ("vae", VaeConfig), ("mcmc", McmcConfig)):
            value = getattr(self, name)
            check_config(name, value, cls)
            if name in used and value is None:
                object.__setattr__(self, name, cls())
            elif name not in used and value is not None:
                users = [m for m, names in _METHOD_CONFIGS.items() if name in names]
                raise ValueError(
                    f"{name}={cls.__name__}(...) configures inference_method "
                    f"{' or '.join(map(repr, users))}; this fit's is {self.inference_method!r}"
                )

    def _refuse_vae_settings(self) -> None:
        if self.latent_dim is not None or self.encoder or self.decoder:
            raise ValueError(
                "latent_dim, encoder, decoder and vae=VaeConfig(...) go with "
                f"inference_method='vae'; this fit's is {self.inference_method!r}"
            )

    def _check_model_method(self, models: tuple[str, ...]) -> None:
        model = self.model.model
        if model in models:
            return
        if model in TWO_STATE_MODELS:
            raise ValueError(
                f"model {model!r} is fitted by MCMC only: pass inference_method='mcmc'"
            )
        if model in LNM_MODELS:
            raise ValueError(
                f"model {model!r} decodes each cell's composition from a latent: fit it "
                "with inference_method='vae'"
            )
        raise ValueError(
            f"model {model!r} cannot be fitted with inference_method={self.inference_method!r}"
        )

    def _check_svi(self) -> None:
        self._check_model_method(NB_MODELS)
        self._refuse_vae_settings()

    def _check_vae(self) -> None:
        self._check_model_method(VAE_MODELS)
        if self.model.n_components is not None:
            raise ValueError(
                "a VAE's latent z already places each cell on a continuum of cell states; "
                "n_components (a mixture of cell types) is fitted by inference_method="
                "'svi' or 'mcmc'"
            )
        if self.latent_dim is None:
            object.__setattr__(self, "latent_dim", DEFAULT_LATENT_DIM)
        model = self.model
        if model.parameterization != "canonical":
            raise ValueError(
                "a VAE decodes each cell's NB mean or composition and samples the NB sizes "
                "(and the LNM total's p) directly: parameterization does not apply (found "
                f"{model.parameterization!r})"
            )
        if self.svi.amortize_capture:
            raise ValueError(
                "amortize_capture does not apply to a VAE: its encoder already outputs "
                "each cell's capture"
            )
        if self.vae.library_size and model.family == "lnm":
            raise ValueError(
                f"library_size=True does not apply to {model.model!r}: its multinomial is "
                "already conditioned on each cell's total, which an NB models"
            )
        if self.vae.library_size and model.variable_capture:
            raise ValueError(
                f"library_size=True conditions on each cell's observed total, which "
                f"replaces the capture of {model.model!r}; use a model without capture"
            )

    def _check_mcmc(self) -> None:
        self._check_model_method((*NB_MODELS, *TWO_STATE_MODELS))
        if self.model.n_components is not None and self.model.model not in NB_MODELS:
            raise ValueError(
                f"n_components applies to the NB models {NB_MODELS}; found {self.model.model!r}"
            )
        self._refuse_vae_settings()
        if self.guide_rank is not None:
            raise ValueError(
                "guide_rank chooses an SVI guide; MCMC samples the posterior itself (found "
                f"guide_rank={self.guide_rank})"
            )
        thinning = self.mcmc.thinning
        if self.n_samples % thinning:
            raise ValueError(
                f"n_samples ({self.n_samples}) must be a multiple of mcmc.thinning "
                f"({thinning}): each chain keeps n_samples // thinning draws"
            )

    def _check_optimisation(self) -> None:
        svi = self.svi
        if svi.joint_params is not None and self.guide_rank is None:
            raise ValueError("joint_params needs guide_rank (the rank of the joint guide)")
        if svi.amortize_capture and not self.model.variable_capture:
            raise ValueError(
                f"amortize_capture=True needs a variable-capture model, found {self.model.model!r}"
            )
        dispatch = svi.steps_per_dispatch
        if dispatch is None:
            dispatch = math.gcd(self.checkpoint_every, MAX_STEPS_PER_DISPATCH)
            object.__setattr__(self, "svi", dataclasses.replace(svi, steps_per_dispatch=dispatch))
        if self.checkpoint_every % dispatch:
            raise ValueError(
                f"checkpoint_every ({self.checkpoint_every}) must be a multiple of "
                f"svi.steps_per_dispatch ({dispatch})"
            )

    @property
    def n_draws(self) -> int:
        """MCMC: the draws each chain keeps (``n_samples // mcmc.thinning``)."""
        return self.n_samples // self.mcmc.thinning
