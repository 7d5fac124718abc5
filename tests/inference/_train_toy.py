"""A toy least-squares fit by Adam on random minibatches, checkpointed as it trains.

Imported by the tests, and run as ``python _train_toy.py DIRECTORY N_STEPS EVERY`` by the
SIGKILL test: it resumes from the newest checkpoint in DIRECTORY (if any), prints
``ready <step>``, trains to N_STEPS, saves every EVERY steps and prints ``saved <step>``.
"""

import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float

from scribe.inference import CheckpointStore

# As tests/conftest.py does, so a run in a subprocess and one under pytest agree bit for bit.
jax.config.update("jax_enable_x64", True)

N_OBS, N_FEATURES, BATCH = 128, 6, 16
OPTIMIZER = optax.adam(1e-2)
METADATA = {"config": {"model": "toy-linear", "batch": BATCH}, "scribe_version": "test"}


class Linear(eqx.Module):
    weight: Float[Array, " features"]
    bias: Float[Array, ""]


def data() -> tuple[Float[Array, "obs features"], Float[Array, " obs"]]:
    key_x, key_noise = jax.random.split(jax.random.key(0))
    x = jax.random.normal(key_x, (N_OBS, N_FEATURES), jnp.float32)
    noise = jax.random.normal(key_noise, (N_OBS,), jnp.float32)
    return x, x @ jnp.arange(1, N_FEATURES + 1, dtype=jnp.float32) + 0.1 * noise


def init_state(n_steps: int, *, seed: int = 1) -> dict:
    """Training state; a different ``seed`` gives a skeleton with other values."""
    model = Linear(jnp.full(N_FEATURES, 0.01 * seed, jnp.float32), jnp.zeros((), jnp.float32))
    return {
        "model": model,
        "opt_state": OPTIMIZER.init(model),
        "key": jax.random.key(seed),
        "step": jnp.zeros((), jnp.int32),
        "losses": jnp.full(n_steps, float(seed), jnp.float64),
    }


@eqx.filter_jit
def train_step(state: dict, x: Float[Array, "obs features"], y: Float[Array, " obs"]) -> dict:
    key, batch_key = jax.random.split(state["key"])
    rows = jax.random.choice(batch_key, N_OBS, (BATCH,), replace=False)

    def loss_fn(model: Linear) -> Float[Array, ""]:
        return jnp.mean((x[rows] @ model.weight + model.bias - y[rows]) ** 2)

    loss, grads = jax.value_and_grad(loss_fn)(state["model"])
    updates, opt_state = OPTIMIZER.update(grads, state["opt_state"], state["model"])
    return {
        "model": eqx.apply_updates(state["model"], updates),
        "opt_state": opt_state,
        "key": key,
        "step": state["step"] + 1,
        "losses": state["losses"].at[state["step"]].set(loss),
    }


def run(state: dict, n_steps: int) -> dict:
    x, y = data()
    for _ in range(n_steps):
        state = train_step(state, x, y)
    return state


def main(directory: str, n_steps: int, every: int) -> None:
    x, y = data()
    with CheckpointStore(directory, metadata=METADATA, max_to_keep=3) as store:
        restored = store.restore_latest(init_state(n_steps, seed=99))
        state = init_state(n_steps) if restored is None else restored[1]
        print("ready", int(state["step"]), flush=True)
        while int(state["step"]) < n_steps:
            state = train_step(state, x, y)
            if int(state["step"]) % every == 0:
                store.save(int(state["step"]), state)
                print("saved", int(state["step"]), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
