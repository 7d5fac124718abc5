"""What a VAE's decoder says of a batch of cells: the likelihood's parameters, and the
per-cell natural parameters results report. ``model`` is a ``ScribeModel`` with a
decoder (not imported here: it imports this module)."""

from collections.abc import Mapping
from typing import Any

import jax.numpy as jnp
from jaxtyping import Array

from ..data import Batch
from ..likelihoods import (
    CaptureParams,
    LNMParams,
    NBLogMeanParams,
    NBParams,
    VariableCapture,
    ZIParams,
)


def decoded_params(
    model: Any,
    globals_: Mapping[str, Array],
    locals_: Mapping[str, Array],
    batch: Batch,
):
    """The VAE likelihood's parameters for the cells of ``batch`` given their ``z``."""
    decoded = model.decoder(locals_["z"], batch)
    if model.models_totals:
        natural = model.parameterization.to_natural(globals_)
        r, p = (jnp.reshape(natural[n], (1, 1)) for n in ("r", "p"))
        total = NBParams(r=r, p=p)
        params = LNMParams(total=total, alr=decoded["alr"])
    else:
        params = NBLogMeanParams(r=globals_["r"][None, :], log_mean=_log_mean(decoded))
    if "gate" in decoded:
        params = ZIParams(base=params, gate=decoded["gate"])
    if model.capture is not None:
        natural = model.capture.to_natural(locals_)
        params = CaptureParams(base=params, capture=natural["p_capture"])
    return params


def decoded_natural(
    model: Any, globals_: Mapping[str, Array], locals_: Mapping[str, Array], batch: Batch
) -> dict[str, Array]:
    """What the VAE says of each cell of ``batch``, by name: the decoder's outputs
    (the mean as ``mu``, also from a decoder that outputs ``log_mu``), the NB ``r``
    broadcast to ``(cells, genes)`` (for lnm / lnmvcp instead the composition ``ρ``
    and the total's shared ``r`` and ``p``), and the capture."""
    decoded = dict(model.decoder(locals_["z"], batch))
    if "log_mu" in decoded:
        decoded["mu"] = jnp.exp(decoded.pop("log_mu"))
    if model.models_totals:
        family = model.likelihood
        family = family.base if isinstance(family, VariableCapture) else family
        decoded["composition"] = jnp.exp(family.log_composition_of_alr(decoded["alr"]))
        natural = model.parameterization.to_natural(globals_)
        decoded.update(r=natural["r"], p=natural["p"])
    else:
        decoded["r"] = jnp.broadcast_to(globals_["r"], decoded["mu"].shape)
    if model.capture is not None:
        decoded.update(model.capture.to_natural(locals_))
    return decoded


def _log_mean(decoded: Mapping[str, Array]) -> Array:
    """The NB log-mean from a decoder's outputs: ``log_mu`` as is; a decoder's ``mu``
    through ``log`` (``-inf`` wherever that mean underflowed to 0)."""
    if "log_mu" in decoded:
        return decoded["log_mu"]
    return jnp.log(decoded["mu"])
