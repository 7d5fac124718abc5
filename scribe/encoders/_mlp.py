"""The multilayer perceptron behind the VAE's encoder and decoder, and argument checks."""

from collections.abc import Sequence

import equinox as eqx
import jax
from jaxtyping import Array, Float, PRNGKeyArray

# Names, not functions, so that a network's configuration stays JSON-serializable.
ACTIVATIONS = {
    "relu": jax.nn.relu,
    "softplus": jax.nn.softplus,
    "gelu": jax.nn.gelu,
    "silu": jax.nn.silu,
    "elu": jax.nn.elu,
    "leaky_relu": jax.nn.leaky_relu,
    "tanh": jax.nn.tanh,
}


def check_size(argument: str, value: object, *, minimum: int = 1) -> int:
    """``value`` as an int, or a ``TypeError``/``ValueError`` naming ``argument``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{argument} must be an int; found {type(value).__name__} {value!r}.")
    if value < minimum:
        raise ValueError(f"{argument} must be at least {minimum}; found {value}.")
    return value


def check_choice(argument: str, value: object, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``, or a ``ValueError`` naming ``argument``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{argument} must be one of {tuple(choices)}; found {value!r}.")
    return value


def check_hidden(hidden: object) -> tuple[int, ...]:
    """The hidden layer widths as a tuple of positive ints."""
    if isinstance(hidden, int | str) or not isinstance(hidden, Sequence):
        raise TypeError(
            f"hidden must be a sequence of layer widths such as (128,); found {hidden!r}."
        )
    return tuple(check_size(f"hidden[{i}]", width) for i, width in enumerate(hidden))


class MLP(eqx.Module):
    """Dense layers of the given widths, ``activation`` between them, none after the last.

    Parameters
    ----------
    n_inputs, n_outputs
        Widths of the input and of the output.
    hidden
        Width of each hidden layer; ``()`` makes the network one affine map.
    activation
        A name from ``ACTIVATIONS``.
    key
        Initialisation key.
    """

    layers: tuple[eqx.nn.Linear, ...]
    activation: str = eqx.field(static=True)

    def __init__(
        self,
        n_inputs: int,
        n_outputs: int,
        hidden: Sequence[int],
        activation: str,
        *,
        key: PRNGKeyArray,
    ):
        widths = (n_inputs, *check_hidden(hidden), n_outputs)
        keys = jax.random.split(key, len(widths) - 1)
        pairs = zip(widths[:-1], widths[1:], keys, strict=True)
        self.layers = tuple(eqx.nn.Linear(a, b, key=k) for a, b, k in pairs)
        self.activation = check_choice("activation", activation, tuple(ACTIVATIONS))

    @property
    def dtype(self):
        """The dtype of the weights, which inputs are cast to."""
        return self.layers[0].weight.dtype

    def __call__(self, x: Float[Array, "cells inputs"]) -> Float[Array, "cells outputs"]:
        """Apply the network to each row of ``x``."""
        x = x.astype(self.dtype)
        act = ACTIVATIONS[self.activation]
        for layer in self.layers[:-1]:
            x = act(jax.vmap(layer)(x))
        return jax.vmap(self.layers[-1])(x)
