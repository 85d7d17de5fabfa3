"""RealNVP flows (ch. 12.7-12.8): the spec's coupling vector, exact inverses and log-dets,
densities that integrate to one, and a flow beating the best single Gaussian on two moons."""
from __future__ import annotations

import numpy as np
import pytest

from engine.autodiff import Tensor, concatenate, gradcheck, no_grad
from engine.flows import (
    RealNVP2D,
    affine_coupling,
    affine_coupling_inverse,
    gaussian_nll,
    validate_flow_config,
)
from engine.io.model_file import ModelFileError
from engine.labs.flow import FlowLab
from engine.nn import functional as F


def _spec_st():
    s = lambda k: F.tanh(k * Tensor(np.array([[.5, .3]])) + Tensor(np.array([[-.2, 0.0]])))  # noqa: E731
    t = lambda k: concatenate([k * k, -k], axis=1)  # noqa: E731
    return s, t


def test_spec_coupling_vector_and_exact_inverse():
    s, t = _spec_st()
    x = np.array([[.7, -1.2, 2.0]])
    y, logdet = affine_coupling(x, 1, s, t)
    np.testing.assert_allclose(y.data, [[.7, -.902647, 1.759883]], atol=5e-7)
    assert float(logdet.data[0]) == pytest.approx(.355852, abs=5e-7)
    np.testing.assert_allclose(affine_coupling_inverse(y, 1, s, t).data, x, atol=1e-12)
    # log|det J| against a finite-difference Jacobian: 1.427396.
    eps, jac = 1e-6, np.zeros((3, 3))
    for j in range(3):
        d = np.zeros((1, 3))
        d[0, j] = eps
        jac[:, j] = (affine_coupling(x + d, 1, s, t)[0].data
                     - affine_coupling(x - d, 1, s, t)[0].data)[0] / (2 * eps)
    assert np.linalg.det(jac) == pytest.approx(1.427396, abs=1e-5)


def test_flow_is_invertible_and_its_log_det_matches_the_jacobian():
    g = np.random.default_rng(0)
    m = RealNVP2D(4, 16, dtype=np.float64, generator=g)
    for p in m.parameters():            # leave the identity start so the test means something
        p.data[...] = g.normal(scale=0.5, size=p.data.shape)
    x = g.normal(size=(5, 2))
    z, logdet = m(Tensor(x))
    np.testing.assert_allclose(m.inverse(z).data, x, atol=1e-10)
    eps = 1e-6
    for n in range(5):
        jac = np.zeros((2, 2))
        for j in range(2):
            d = np.zeros((1, 2))
            d[0, j] = eps
            jac[:, j] = (m(Tensor(x[n:n + 1] + d))[0].data
                         - m(Tensor(x[n:n + 1] - d))[0].data)[0] / (2 * eps)
        assert np.log(abs(np.linalg.det(jac))) == pytest.approx(logdet.data[n], abs=1e-6)
    xs = Tensor(x[:2], requires_grad=True)
    gradcheck(lambda a: m.log_prob(a), [xs])


def test_density_integrates_to_one_and_the_flow_beats_a_gaussian():
    lab = FlowLab(seed=0, n_points=600)
    lab.step(300)
    s = lab.snapshot()
    assert s.scalars["density_mass"] == pytest.approx(1.0, abs=0.05)
    assert s.scalars["test_nll"] < s.scalars["gaussian_nll"] - 0.3
    assert len(s.data["stages"]) == 7 and s.data["samples"].shape == (600, 2)


def test_gaussian_baseline_is_the_exact_gaussian_nll():
    g = np.random.default_rng(1)
    x = g.normal(size=(20000, 2)) * [2.0, 0.5] + [1.0, -1.0]
    # Entropy of a Gaussian: 0.5 log det(2 pi e S) with S = diag(4, 0.25).
    expected = 0.5 * np.log(np.linalg.det(2 * np.pi * np.e * np.diag([4.0, 0.25])))
    assert gaussian_nll(x, x) == pytest.approx(expected, abs=0.02)


def test_drawn_points_model_files_and_bad_input(tmp_path):
    lab = FlowLab(seed=0, n_points=200)
    lab.do_action("add_points", points=[(0.1 * i, 0.05 * i * i) for i in range(-8, 9)])
    assert lab.values["dataset"] == "drawn" and len(lab.Xtr) + len(lab.Xte) == 17
    before = lab.drawn.copy()
    for bad in ([], [(1.0, np.nan)], [(1, 2, 3)], [(100.0, 0.0)]):
        with pytest.raises(ValueError):
            lab.do_action("add_points", points=bad)
    np.testing.assert_array_equal(lab.drawn, before)
    lab.step(20)
    path = tmp_path / "flow.safetensors"
    lab.save_model(path)
    other = FlowLab(seed=3, n_points=200)
    other.load_model(path)
    pts = Tensor(np.random.default_rng(0).normal(size=(30, 2)).astype(np.float32))
    with no_grad():
        np.testing.assert_array_equal(other.model.log_prob(pts).data,
                                      lab.model.log_prob(pts).data)
    with pytest.raises(ValueError, match="n_layers"):
        validate_flow_config({"n_layers": 0, "hidden": 8})
    from engine.labs.network import NetworkLab
    net = NetworkLab(seed=0)
    net.save_model(tmp_path / "net.safetensors")
    with pytest.raises(ModelFileError, match="RealNVP"):
        other.load_model(tmp_path / "net.safetensors")
