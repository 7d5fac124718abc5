"""``scribe.load``: saved results -> the config they hold -> rebuilt modules -> results."""

from pathlib import Path
from typing import Any

import equinox as eqx
import numpy as np

from ..build import build_modules, make_model
from ..config import FitConfig, prior_from_json
from ..decoders import AbstractDecoder
from ..encoders import AbstractEncoder
from ..inference import McmcDraws, empty_draws
from ..results import ScribeResults, persist


def load(
    path: str | Path,
    *,
    adata: Any = None,
    encoder: AbstractEncoder | None = None,
    decoder: AbstractDecoder | None = None,
) -> ScribeResults:
    """Load results written by ``ScribeResults.save``.

    Results saved by scribe 0.1 (format ``scribe-results-1``) load too: their configs
    are translated into a ``FitConfig`` (``scribe.config.config_from_v1``).

    Parameters
    ----------
    path
        The directory ``save`` wrote.
    adata
        Optional AnnData the results will be used with: its ``var_names`` must be the
        fitted genes, in order.
    encoder, decoder
        For a VAE fitted with a user's encoder or decoder (or an ``MLPEncoder`` /
        ``MLPDecoder`` built by the user): a module of the same class and shapes,
        whose arrays are replaced by the saved ones (the saved files hold arrays, not
        code). Scribe's default modules are rebuilt without them.

    Examples
    --------
    >>> import tempfile, scribe
    >>> results = scribe.fit(scribe.datasets.pbmc68k_reduced(), model="nbdm", n_steps=20,
    ...                      progress=False)
    >>> path = tempfile.mkdtemp() + "/run"
    >>> results.save(path)
    >>> bool((scribe.load(path).loss_history == results.loss_history).all())
    True
    """
    metadata = persist.read_metadata(path)
    genes = metadata["gene_names"]
    if adata is not None:
        found = [str(g) for g in adata.var_names]
        if found != genes:
            raise ValueError(
                f"adata.var_names must be the {len(genes)} genes the results were fitted to, "
                f"in order; found {len(found)} genes"
            )
    config = persist.saved_config(metadata)
    priors = {n: prior_from_json(s) for n, s in metadata["priors"].items()}
    skeleton_counts = persist.stand_in_counts(metadata)
    if config.inference_method == "vae":
        _check_skeletons(config, encoder, decoder)
    elif encoder is not None or decoder is not None:
        raise ValueError("encoder and decoder apply to VAE results; these are not")
    guide = draws = None
    cells = {
        name: np.asarray(metadata[name], np.int32)
        for name in ("cell_labels", "cell_datasets")
        if metadata.get(name) is not None
    }
    if config.inference_method == "mcmc":
        model = make_model(config, skeleton_counts, priors, **cells)
        draws = empty_draws(model, config, skeleton_counts.n_cells)
    else:
        modules = build_modules(
            config,
            skeleton_counts,
            priors,
            encoder=encoder,
            decoder=decoder,
            reference_gene=metadata.get("reference_gene"),
            **cells,
        )
        model, guide, encoder = modules.model, modules.guide, modules.encoder
    networks = model.networks
    skeleton = persist.state_skeleton(
        metadata, guide=guide, encoder=encoder, networks=networks, draws=draws
    )
    state = persist.read_state(path, metadata, skeleton, guide=guide)
    if networks is not None:
        model = model.with_networks(_filled(state["networks"], networks))
    if draws is not None:
        draws = McmcDraws.from_arrays(state["draws"], max_tree_depth=draws.max_tree_depth)
    return ScribeResults(
        model=model,
        draws=draws,
        guide=None if guide is None else _filled(state["guide"], guide),
        encoder=None if encoder is None else _filled(state["encoder"], encoder),
        loss_history=np.zeros(0)
        if state["loss_history"] is None
        else np.asarray(state["loss_history"]),
        counts=persist.saved_counts(state, metadata),
        config=config,
        skipped_steps=metadata["skipped_steps"],
    )


def _filled(arrays: Any, module: Any) -> Any:
    """``module`` with its array leaves replaced by the restored ``arrays``."""
    return eqx.combine(arrays, eqx.filter(module, eqx.is_array, inverse=True))


def _check_skeletons(config: FitConfig, encoder: Any, decoder: Any) -> None:
    """A VAE fitted with user-built modules needs a module of each class to load into."""
    for name, fitted_class, given in (
        ("encoder", config.encoder, encoder),
        ("decoder", config.decoder, decoder),
    ):
        if fitted_class is None and given is not None:
            raise ValueError(
                f"these results were fitted with scribe's default {name}; load them without "
                f"{name}= (found a {type(given).__name__})"
            )
        if fitted_class is not None and given is None:
            raise ValueError(
                f"these results were fitted with a {fitted_class} {name} built by the user; "
                f"pass {name}=<a {fitted_class} of the same shapes> to scribe.load (its "
                "arrays are replaced by the saved ones)"
            )
        if fitted_class is not None and type(given).__name__ != fitted_class:
            raise TypeError(
                f"{name} must be a {fitted_class} (the class these results were fitted "
                f"with), found {type(given).__name__}"
            )
