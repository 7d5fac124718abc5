"""``PointEncoder`` (MCMC's table of points) against numpy / scipy oracles."""

import jax
import numpy as np
import pytest
import scipy.special

from scribe.encoders import PointEncoder

from ..networks.cases import BATCH, N_CELLS, eager, minibatch, of_kind
from .test_encoders import _inverse_and_log_jacobian

(POINT,) = of_kind("point")


def test_constrained_values_and_log_jacobian_match_the_inverse_maps():
    encoder, out = POINT.module, eager(POINT).outputs
    expected_log_det = np.zeros(BATCH)
    for name in encoder.names:
        loc, value = np.asarray(out[f"loc/{name}"]), np.asarray(out[f"constrained/{name}"])
        np.testing.assert_allclose(value, np.asarray(out[f"median/{name}"]), rtol=1e-12)
        unconstrained, log_jacobian = _inverse_and_log_jacobian(
            name, encoder.positive_transform, value
        )
        np.testing.assert_allclose(unconstrained, loc, rtol=1e-9, atol=1e-9)
        expected_log_det += log_jacobian.reshape(BATCH, -1).sum(axis=1)
    np.testing.assert_allclose(out["log_det"], expected_log_det, rtol=1e-9, atol=1e-12)


def test_rows_follow_the_batch_cell_index():
    batch = minibatch()
    values = np.linspace(-3.0, 3.0, N_CELLS)
    point = PointEncoder(("p_capture",), {"p_capture": values})
    found, _ = point.constrained(batch)
    expected = scipy.special.expit(values[np.asarray(batch.cell_index)])
    np.testing.assert_allclose(found["p_capture"], expected, rtol=1e-6)
    _, scale = point.unconstrained_params(batch)["p_capture"]
    assert np.all(np.asarray(scale) == 0.0)


def test_a_point_has_no_density_to_sample_from():
    with pytest.raises(TypeError, match="point, not a distribution"):
        POINT.module.sample_and_log_prob(minibatch(), key=jax.random.key(0))


def test_values_must_cover_the_names_with_one_row_count():
    with pytest.raises(ValueError, match="missing \\['p_capture'\\]"):
        PointEncoder(("p_capture",), {"z": np.zeros(3)})
    with pytest.raises(ValueError, match="one n_cells"):
        PointEncoder(("z", "p_capture"), {"z": np.zeros((3, 2)), "p_capture": np.zeros(4)})
    with pytest.raises(ValueError, match="one n_cells"):
        PointEncoder(("p_capture",), {"p_capture": np.zeros(())})
