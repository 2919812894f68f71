"""The tensor kernels (gradcli/backends/tensor_kernels.py) against independent implementations.

Every kernel is compared with a naive-loop NumPy version written here in the CS231n style
(``conv_forward_naive``, ``conv_backward_naive``, ``max_pool_forward_naive``...), every
gradient with central finite differences, and the linear maps with the dot-product test
⟨ḡ, J v⟩ = ⟨Jᵀ ḡ, v⟩.  Hypothesis draws shapes, strides and paddings (the project profile,
tests/conftest.py: derandomized).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradcli.backends import tensor_kernels as K


# ---- the naive references (loops over every element, as a student writes them) ---------------

def conv_forward_naive(x, w, stride=1, pad=0):
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    Ho, Wo = 1 + (H + 2 * pad - KH) // stride, 1 + (W + 2 * pad - KW) // stride
    out = np.zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    window = xp[n, :, i * stride:i * stride + KH, j * stride:j * stride + KW]
                    out[n, f, i, j] = np.sum(window * w[f])
    return out


def conv_backward_naive(dout, x, w, stride=1, pad=0):
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    Ho, Wo = dout.shape[2:]
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    hs, ws = i * stride, j * stride
                    dxp[n, :, hs:hs + KH, ws:ws + KW] += w[f] * dout[n, f, i, j]
                    dw[f] += xp[n, :, hs:hs + KH, ws:ws + KW] * dout[n, f, i, j]
    return dxp[:, :, pad:pad + H, pad:pad + W], dw


def conv1d_naive(x, w, stride=1, pad=0):
    N, C, L = x.shape
    F, _, K_ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad)))
    Lo = 1 + (L + 2 * pad - K_) // stride
    out = np.zeros((N, F, Lo))
    for n in range(N):
        for f in range(F):
            for i in range(Lo):
                out[n, f, i] = np.sum(xp[n, :, i * stride:i * stride + K_] * w[f])
    return out


def pool_forward_naive(x, k, stride, reduce):
    N, C, H, W = x.shape
    Ho, Wo = 1 + (H - k) // stride, 1 + (W - k) // stride
    out = np.zeros((N, C, Ho, Wo))
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    out[n, c, i, j] = reduce(x[n, c, i * stride:i * stride + k, j * stride:j * stride + k])
    return out


def max_pool_backward_naive(dout, x, k, stride):
    dx = np.zeros_like(x)
    N, C, Ho, Wo = dout.shape
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    window = x[n, c, i * stride:i * stride + k, j * stride:j * stride + k]
                    p, q = np.unravel_index(np.argmax(window), window.shape)  # the first maximum
                    dx[n, c, i * stride + p, j * stride + q] += dout[n, c, i, j]
    return dx


def avg_pool_backward_naive(dout, x, k, stride):
    dx = np.zeros_like(x)
    N, C, Ho, Wo = dout.shape
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    dx[n, c, i * stride:i * stride + k, j * stride:j * stride + k] += dout[n, c, i, j] / (k * k)
    return dx


def full_correlation_flipped(dout, w, pad):
    """x̄ of a stride-1 conv as the lecture states it: ḡ zero-padded by K−1, cross-correlated
    with the kernel flipped in both spatial axes (channels F and C swapped), cropped by pad."""
    F, C, KH, KW = w.shape
    flipped = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
    full = conv_forward_naive(np.pad(dout, ((0, 0), (0, 0), (KH - 1, KH - 1), (KW - 1, KW - 1))), flipped)
    H, W = full.shape[2] - 2 * pad, full.shape[3] - 2 * pad
    return full[:, :, pad:pad + H, pad:pad + W]


def numeric_grad(f, x, g, h=1e-6):
    """Central differences of ⟨g, f(x)⟩ with respect to every element of x."""
    x = x.copy()
    out = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        up = np.sum(g * f(x))
        x[i] = old - h
        down = np.sum(g * f(x))
        x[i] = old
        out[i] = (up - down) / (2 * h)
    return out


def close(analytic, numeric, tol=1e-6):
    analytic, numeric = np.asarray(analytic), np.asarray(numeric)
    assert analytic.shape == numeric.shape, (analytic.shape, numeric.shape)
    err = np.max(np.abs(analytic - numeric) / np.maximum(1.0, np.abs(numeric)), initial=0.0)
    assert err <= tol, f"analytic {analytic.ravel()[:6]} vs numeric {numeric.ravel()[:6]} (error {err:.3g})"


# ---- drawn problems ----------------------------------------------------------------------------

@st.composite
def conv_problems(draw):
    n, c, f = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride, pad = draw(st.integers(1, 3)), draw(st.integers(0, 2))
    # H + 2·pad − KH a multiple of the stride, and H ≥ 1
    mh, mw = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    h = kh - 2 * pad + stride * mh
    w = kw - 2 * pad + stride * mw
    while h < 1:
        h += stride
    while w < 1:
        w += stride
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.normal(size=(n, c, h, w)), rng.normal(size=(f, c, kh, kw)), stride, pad, rng


@st.composite
def pool_problems(draw):
    n, c, k = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = draw(st.integers(1, 3))
    h = k + stride * draw(st.integers(0, 3))
    w = k + stride * draw(st.integers(0, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.normal(size=(n, c, h, w)), k, stride, rng


# ---- convolution ------------------------------------------------------------------------------

@given(conv_problems())
def test_conv2d_matches_the_naive_loops(problem):
    x, w, stride, pad, rng = problem
    y = K.conv2d(x, w, stride, pad)
    np.testing.assert_allclose(y, conv_forward_naive(x, w, stride, pad), rtol=1e-10, atol=1e-10)
    assert y.shape == K.conv2d_shape(x.shape, w.shape, stride, pad)
    g = rng.normal(size=y.shape)
    dx, dw = conv_backward_naive(g, x, w, stride, pad)
    np.testing.assert_allclose(K.conv2d_grad_x(g, x, w, stride, pad), dx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(K.conv2d_grad_w(g, x, w, stride, pad), dw, rtol=1e-10, atol=1e-10)


@given(conv_problems())
def test_conv2d_dot_product_test(problem):
    # conv2d is linear in x and in w: ⟨ḡ, conv(v, w)⟩ = ⟨x̄(ḡ), v⟩ and likewise for w
    x, w, stride, pad, rng = problem
    g = rng.normal(size=K.conv2d_shape(x.shape, w.shape, stride, pad))
    vx, vw = rng.normal(size=x.shape), rng.normal(size=w.shape)
    lhs = np.sum(g * K.conv2d(vx, w, stride, pad))
    assert np.isclose(lhs, np.sum(K.conv2d_grad_x(g, x, w, stride, pad) * vx), rtol=1e-10, atol=1e-10)
    lhs = np.sum(g * K.conv2d(x, vw, stride, pad))
    assert np.isclose(lhs, np.sum(K.conv2d_grad_w(g, x, w, stride, pad) * vw), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("stride, pad", [(1, 0), (1, 1), (2, 1)])
def test_conv2d_gradients_against_finite_differences(stride, pad):
    rng = np.random.default_rng(1)
    x, w = rng.normal(size=(2, 3, 5, 5)), rng.normal(size=(2, 3, 3, 3))
    g = rng.normal(size=K.conv2d_shape(x.shape, w.shape, stride, pad))
    close(K.conv2d_grad_x(g, x, w, stride, pad), numeric_grad(lambda v: K.conv2d(v, w, stride, pad), x, g))
    close(K.conv2d_grad_w(g, x, w, stride, pad), numeric_grad(lambda v: K.conv2d(x, v, stride, pad), w, g))


@pytest.mark.parametrize("pad", [0, 1, 2])
def test_conv2d_grad_x_is_the_full_correlation_with_the_flipped_kernel(pad):
    # the rule the explanations print: x̄ = full cross-correlation of ḡ with the flipped kernel
    rng = np.random.default_rng(pad)
    x, w = rng.normal(size=(2, 3, 6, 5)), rng.normal(size=(4, 3, 3, 2))
    g = rng.normal(size=K.conv2d_shape(x.shape, w.shape, 1, pad))
    np.testing.assert_allclose(K.conv2d_grad_x(g, x, w, 1, pad), full_correlation_flipped(g, w, pad), atol=1e-10)
    unflipped = full_correlation_flipped(g, w[:, :, ::-1, ::-1], pad)  # the classic mistake differs
    assert not np.allclose(K.conv2d_grad_x(g, x, w, 1, pad), unflipped)


def test_conv2d_of_one_image_is_the_batch_of_one():
    rng = np.random.default_rng(2)
    x, w = rng.normal(size=(3, 6, 6)), rng.normal(size=(2, 3, 3, 3))
    y = K.conv2d(x, w, 1, 1)
    assert y.shape == (2, 6, 6) == K.conv2d_shape(x.shape, w.shape, 1, 1)
    np.testing.assert_allclose(y, conv_forward_naive(x[None], w, 1, 1)[0], atol=1e-12)
    g = rng.normal(size=y.shape)
    dx, dw = conv_backward_naive(g[None], x[None], w, 1, 1)
    np.testing.assert_allclose(K.conv2d_grad_x(g, x, w, 1, 1), dx[0], atol=1e-12)
    np.testing.assert_allclose(K.conv2d_grad_w(g, x, w, 1, 1), dw, atol=1e-12)


def test_conv2d_a_known_value():
    # a 3×3 image of 1…9 and a 2×2 kernel [[1, 0], [0, -1]]: y[i,j] = x[i,j] − x[i+1,j+1] = −4
    x = np.arange(1.0, 10.0).reshape(1, 3, 3)
    w = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])
    np.testing.assert_array_equal(K.conv2d(x, w), [[[-4.0, -4.0], [-4.0, -4.0]]])


@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(1, 3),
       st.integers(0, 2), st.integers(0, 3), st.integers(0, 2**32 - 1))
def test_conv1d_matches_the_naive_loops(n, c, f, k, stride, pad, m, seed):
    rng = np.random.default_rng(seed)
    length = k - 2 * pad + stride * m
    while length < 1:
        length += stride
    x, w = rng.normal(size=(n, c, length)), rng.normal(size=(f, c, k))
    y = K.conv1d(x, w, stride, pad)
    np.testing.assert_allclose(y, conv1d_naive(x, w, stride, pad), atol=1e-10)
    assert y.shape == K.conv1d_shape(x.shape, w.shape, stride, pad)
    g = rng.normal(size=y.shape)
    vx, vw = rng.normal(size=x.shape), rng.normal(size=w.shape)
    assert np.isclose(np.sum(g * K.conv1d(vx, w, stride, pad)), np.sum(K.conv1d_grad_x(g, x, w, stride, pad) * vx))
    assert np.isclose(np.sum(g * K.conv1d(x, vw, stride, pad)), np.sum(K.conv1d_grad_w(g, x, w, stride, pad) * vw))


def test_conv1d_gradients_against_finite_differences():
    rng = np.random.default_rng(3)
    x, w = rng.normal(size=(2, 2, 7)), rng.normal(size=(3, 2, 3))
    g = rng.normal(size=K.conv1d_shape(x.shape, w.shape, 2, 1))
    close(K.conv1d_grad_x(g, x, w, 2, 1), numeric_grad(lambda v: K.conv1d(v, w, 2, 1), x, g))
    close(K.conv1d_grad_w(g, x, w, 2, 1), numeric_grad(lambda v: K.conv1d(x, v, 2, 1), w, g))
    one = K.conv1d(x[0], w, 2, 1)  # (C, L) gives (F, L')
    np.testing.assert_allclose(one, K.conv1d(x, w, 2, 1)[0])
    assert K.conv1d_grad_x(g[0], x[0], w, 2, 1).shape == (2, 7)


@pytest.mark.parametrize("call, words", [
    (lambda: K.conv2d_shape((2, 3, 6, 6), (4, 3, 3, 3), 2, 0), ["stride 2", "(2, 3, 6, 6)", "(4, 3, 3, 3)"]),
    (lambda: K.conv2d_shape((2, 3, 6, 6), (4, 2, 3, 3)), ["3 channels", "expects 2", "(4, 2, 3, 3)"]),
    (lambda: K.conv2d_shape((6, 6), (4, 1, 3, 3)), ["(N, C, H, W) or (C, H, W)", "(6, 6)"]),
    (lambda: K.conv2d_shape((1, 6, 6), (1, 3, 3)), ["(F, C, KH, KW)", "(1, 3, 3)"]),
    (lambda: K.conv2d_shape((1, 1, 2, 2), (1, 1, 3, 3)), ["larger than x", "(1, 1, 2, 2)"]),
    (lambda: K.conv2d_shape((1, 1, 4, 4), (1, 1, 3, 3), 0), ["stride must be a whole number ≥ 1"]),
    (lambda: K.conv2d_shape((1, 1, 4, 4), (1, 1, 3, 3), 1, 0.5), ["padding must be a whole number"]),
    (lambda: K.conv1d_shape((2, 3, 8), (4, 3, 3), 2), ["stride 2", "L", "(2, 3, 8)"]),
    (lambda: K.pool2d_shape((1, 1, 5, 5), 2), ["stride 2", "5 − 2 = 3"]),
    (lambda: K.pool2d_shape((1, 1, 2, 2), 3), ["3×3 window does not fit"]),
    (lambda: K.pool2d_shape((4, 4), 2), ["(N, C, H, W) or (C, H, W)", "(4, 4)"]),
    (lambda: K.amax_shape((2, 3), 2), ["axis 2 is out of range", "(2, 3)"]),
    (lambda: K.pick_shape((3, 4), (2,)), ["(N, C)", "(3, 4)", "(2,)"]),
    (lambda: K.onehot_shape((2, 2), 3), ["(N,)", "(2, 2)"]),
    (lambda: K.gather_rows_shape((), (2,)), ["scalar"]),
])
def test_shape_errors_are_clear_sentences(call, words):
    with pytest.raises(ValueError) as exc:
        call()
    for word in words:
        assert word in str(exc.value), (word, str(exc.value))


def test_the_element_limit_refuses_before_allocating():
    with pytest.raises(ValueError, match="the tensor kernels take at most 50,000,000"):
        K.conv2d_shape((64, 64, 256, 256), (64, 64, 7, 7), 1, 3)  # its im2col matrix: 13 billion
    with pytest.raises(ValueError, match="x\\[idx\\] would have"):
        K.gather_rows(np.zeros((2, 1000)), np.zeros((100_000,)))
    K.check_elements((K.MAX_KERNEL_ELEMENTS,), "a tensor")  # exactly the limit is allowed
    with pytest.raises(ValueError, match="a tensor would have 50,000,001 elements"):
        K.check_elements((K.MAX_KERNEL_ELEMENTS + 1,), "a tensor")


# ---- pooling ----------------------------------------------------------------------------------

@given(pool_problems())
def test_maxpool2d_matches_the_naive_loops(problem):
    x, k, stride, rng = problem
    y = K.maxpool2d(x, k, stride)
    np.testing.assert_array_equal(y, pool_forward_naive(x, k, stride, np.max))
    assert y.shape == K.pool2d_shape(x.shape, k, stride)
    g = rng.normal(size=y.shape)
    np.testing.assert_allclose(K.maxpool2d_grad(g, x, k, stride), max_pool_backward_naive(g, x, k, stride),
                               atol=1e-12)
    assert not K.maxpool2d_ties(x, k, stride)  # continuous draws do not tie
    # forward/reverse agreement along a direction: (y(x + εv) − y(x − εv)) / 2ε against x̄
    v = rng.normal(size=x.shape)
    eps = 1e-7
    jv = (K.maxpool2d(x + eps * v, k, stride) - K.maxpool2d(x - eps * v, k, stride)) / (2 * eps)
    assert np.isclose(np.sum(g * jv), np.sum(K.maxpool2d_grad(g, x, k, stride) * v), rtol=1e-6, atol=1e-6)


@given(pool_problems())
def test_avgpool2d_matches_the_naive_loops(problem):
    x, k, stride, rng = problem
    y = K.avgpool2d(x, k, stride)
    np.testing.assert_allclose(y, pool_forward_naive(x, k, stride, np.mean), atol=1e-12)
    g = rng.normal(size=y.shape)
    dx = K.avgpool2d_grad(g, x, k, stride)
    np.testing.assert_allclose(dx, avg_pool_backward_naive(g, x, k, stride), atol=1e-12)
    v = rng.normal(size=x.shape)
    assert np.isclose(np.sum(g * K.avgpool2d(v, k, stride)), np.sum(dx * v))


@pytest.mark.parametrize("k, stride", [(2, None), (3, 1), (2, 2), (3, 3)])
def test_pooling_gradients_against_finite_differences(k, stride):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 2, 6, 6))
    g = rng.normal(size=K.pool2d_shape(x.shape, k, stride))
    close(K.maxpool2d_grad(g, x, k, stride), numeric_grad(lambda v: K.maxpool2d(v, k, stride), x, g))
    close(K.avgpool2d_grad(g, x, k, stride), numeric_grad(lambda v: K.avgpool2d(v, k, stride), x, g))


def test_pooling_of_one_image_and_the_default_stride():
    x = np.arange(16.0).reshape(1, 4, 4)
    np.testing.assert_array_equal(K.maxpool2d(x, 2), [[[5.0, 7.0], [13.0, 15.0]]])
    np.testing.assert_array_equal(K.avgpool2d(x, 2), [[[2.5, 4.5], [10.5, 12.5]]])
    g = np.ones((1, 2, 2))
    np.testing.assert_array_equal(K.maxpool2d_grad(g, x, 2)[0], [[0, 0, 0, 0], [0, 1, 0, 1],
                                                                   [0, 0, 0, 0], [0, 1, 0, 1]])
    np.testing.assert_array_equal(K.avgpool2d_grad(g, x, 2), np.full((1, 4, 4), 0.25))


def test_a_tie_in_a_window_goes_to_its_first_maximum_as_in_pytorch():
    x = np.array([[[[1.0, 3.0], [3.0, 0.0]]]])  # the max 3 twice: row-major first is (0, 1)
    assert K.maxpool2d_ties(x, 2)
    np.testing.assert_array_equal(K.maxpool2d_grad(np.array([[[[5.0]]]]), x, 2), [[[[0.0, 5.0], [0.0, 0.0]]]])
    assert not K.maxpool2d_ties(np.array([[[[1.0, 3.0], [2.0, 0.0]]]]), 2)
    # overlapping windows (stride 1) may send two gradients to one element: they add
    x = np.array([[[[0.0, 9.0, 0.0], [0.0, 0.0, 0.0]]]])
    np.testing.assert_array_equal(K.maxpool2d_grad(np.array([[[[1.0, 2.0]]]]), x, 2, 1),
                                  [[[[0.0, 3.0, 0.0], [0.0, 0.0, 0.0]]]])


# ---- amax / amin along an axis ----------------------------------------------------------------

def amax_naive(x, axis):
    moved = np.moveaxis(x, axis, -1)
    flat = moved.reshape(-1, moved.shape[-1])
    out = np.zeros(flat.shape[0])
    for r in range(flat.shape[0]):
        best = flat[r, 0]
        for v in flat[r]:
            best = v if v > best else best
        out[r] = best
    return out.reshape(moved.shape[:-1])


@given(st.lists(st.integers(1, 4), min_size=1, max_size=4), st.data(), st.integers(0, 2**32 - 1))
def test_amax_and_amin_along_an_axis(shape, data, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    np.testing.assert_array_equal(K.amax(x, axis), amax_naive(x, axis % len(shape)))
    np.testing.assert_array_equal(K.amin(x, axis), -amax_naive(-x, axis % len(shape)))
    assert K.amax(x, axis).shape == K.amax_shape(x.shape, axis)
    g = rng.normal(size=K.amax_shape(x.shape, axis))
    close(K.amax_grad(g, x, axis), numeric_grad(lambda v: K.amax(v, axis), x, g))
    close(K.amin_grad(g, x, axis), numeric_grad(lambda v: K.amin(v, axis), x, g))
    assert not K.amax_ties(x, axis).any() and not K.amin_ties(x, axis).any()


def test_amax_of_all_elements_and_ties_share_evenly():
    x = np.array([[1.0, 4.0], [4.0, 2.0]])
    assert K.amax(x) == 4.0 and K.amin(x) == 1.0 and K.amax_shape(x.shape) == ()
    np.testing.assert_array_equal(K.amax_grad(6.0, x), [[0.0, 3.0], [3.0, 0.0]])  # as today's amax row
    assert K.amax_ties(x) is True and K.amin_ties(x) is False
    # along axis 0: column 0's max 4 is alone, column 1's max 4 is alone; along axis 1 no ties either
    np.testing.assert_array_equal(K.amax_ties(np.array([[3.0, 1.0], [3.0, 2.0]]), 0), [True, False])
    np.testing.assert_array_equal(K.amax_grad(np.array([2.0, 1.0]), np.array([[3.0, 1.0], [3.0, 2.0]]), 0),
                                  [[1.0, 0.0], [1.0, 1.0]])
    np.testing.assert_array_equal(K.amin_grad(np.array([1.0, 1.0]), np.array([[0.0, 0.0], [1.0, 2.0]]), 1),
                                  [[0.5, 0.5], [1.0, 0.0]])


def test_amax_matches_the_engine_amax_row():
    # the same numbers as core/ops.py's amax row, ties and all
    from gradcli.backends.arrays import ARRAY
    from gradcli.core.ops import OPS

    x = np.array([[1.0, 4.0, 4.0], [0.0, 4.0, -1.0]])
    row = OPS["amax"].vjp[0](ARRAY, 2.0, [x], K.amax(x), None)  # type: ignore[index]
    np.testing.assert_allclose(K.amax_grad(2.0, x), row)
    assert K.amax_ties(x) == OPS["amax"].kink(x)  # type: ignore[misc]


# ---- gathers, picks, one-hot ------------------------------------------------------------------

@given(st.integers(1, 5), st.integers(1, 4), st.lists(st.integers(0, 4), min_size=1, max_size=8),
       st.integers(0, 2**32 - 1))
def test_gather_rows_and_its_scatter_add(n, d, picks, seed):
    rng = np.random.default_rng(seed)
    idx = np.array([p % n for p in picks], dtype=float)  # float64, as the bindings give
    x = rng.normal(size=(n, d))
    y = K.gather_rows(x, idx)
    expected = np.zeros((len(idx), d))
    for r, i in enumerate(idx):
        expected[r] = x[int(i)]
    np.testing.assert_array_equal(y, expected)
    assert y.shape == K.gather_rows_shape(x.shape, idx.shape)
    g = rng.normal(size=y.shape)
    naive = np.zeros_like(x)
    for r, i in enumerate(idx):
        naive[int(i)] += g[r]  # a repeated index adds
    np.testing.assert_allclose(K.scatter_add_rows(g, x.shape, idx), naive, atol=1e-12)
    v = rng.normal(size=x.shape)
    assert np.isclose(np.sum(g * K.gather_rows(v, idx)), np.sum(K.scatter_add_rows(g, x.shape, idx) * v))


def test_gather_with_repeated_indices_and_a_matrix_of_indices():
    W = np.arange(12.0).reshape(4, 3)  # an embedding table: 4 words, 3 dimensions
    idx = np.array([[1.0, 1.0], [3.0, 0.0]])  # (N, T) = (2, 2)
    out = K.gather_rows(W, idx)
    assert out.shape == (2, 2, 3) == K.gather_rows_shape(W.shape, idx.shape)
    np.testing.assert_array_equal(out[0, 1], W[1])
    dW = K.scatter_add_rows(np.ones((2, 2, 3)), W.shape, idx)
    np.testing.assert_array_equal(dW[:, 0], [1.0, 2.0, 0.0, 1.0])
    close(dW, numeric_grad(lambda v: K.gather_rows(v, idx), W, np.ones((2, 2, 3))))


@pytest.mark.parametrize("idx, words", [
    ([0.0, 1.5], "whole numbers, got 1.5"),
    ([0.0, 4.0], "holds 4, outside 0…3"),
    ([-1.0], "holds -1, outside 0…3"),
    ([np.nan], "whole numbers, got nan"),
])
def test_bad_indices_are_clear_errors(idx, words):
    with pytest.raises(ValueError, match=words):
        K.gather_rows(np.zeros((4, 2)), np.array(idx))


def test_pick_onehot_and_the_one_hot_scatter():
    rng = np.random.default_rng(5)
    S, y = rng.normal(size=(4, 3)), np.array([2.0, 0.0, 2.0, 1.0])
    picked = K.pick(S, y)
    np.testing.assert_array_equal(picked, [S[i, int(y[i])] for i in range(4)])
    assert picked.shape == K.pick_shape(S.shape, y.shape)
    g = rng.normal(size=4)
    close(K.pick_grad(g, S, y), numeric_grad(lambda v: K.pick(v, y), S, g))
    V = rng.normal(size=S.shape)
    assert np.isclose(np.sum(g * K.pick(V, y)), np.sum(K.pick_grad(g, S, y) * V))
    hot = K.onehot(y, 3)
    np.testing.assert_array_equal(hot, [[0, 0, 1], [1, 0, 0], [0, 0, 1], [0, 1, 0]])
    np.testing.assert_array_equal(K.pick_grad(np.ones(4), S, y), hot)  # the scatter is the one-hot matrix
    assert K.onehot_shape(y.shape, 3.0) == (4, 3)
    with pytest.raises(ValueError, match="outside 0…2"):
        K.onehot(np.array([3.0]), 3)
    with pytest.raises(ValueError, match="S has 3 columns"):
        K.pick(S, np.array([0.0, 0.0, 0.0, 3.0]))


def test_views_and_whole_floats_as_parameters():
    # the engine hands kernels transposed views, and parameters as floats (2.0 for a stride)
    rng = np.random.default_rng(6)
    x = rng.normal(size=(6, 6, 3, 2)).transpose(3, 2, 1, 0)  # a non-contiguous (2, 3, 6, 6)
    w = rng.normal(size=(3, 3, 3, 4)).transpose(3, 2, 1, 0)
    np.testing.assert_allclose(K.conv2d(x, w, 1.0, 1.0), conv_forward_naive(x.copy(), w.copy(), 1, 1), atol=1e-12)
    g = rng.normal(size=(2, 4, 6, 6)).transpose(0, 1, 3, 2)
    dx, dw = conv_backward_naive(g.copy(), x.copy(), w.copy(), 1, 1)
    np.testing.assert_allclose(K.conv2d_grad_x(g, x, w, 1.0, 1.0), dx, atol=1e-12)
    np.testing.assert_allclose(K.conv2d_grad_w(g, x, w, 1.0, 1.0), dw, atol=1e-12)
    np.testing.assert_array_equal(K.maxpool2d(x, 2.0, 2.0), pool_forward_naive(x.copy(), 2, 2, np.max))
    np.testing.assert_array_equal(K.amax(x, 1.0), x.max(axis=1))
    assert K.maxpool2d_shape is K.avgpool2d_shape is K.pool2d_shape and K.amin_shape is K.amax_shape
    assert K.onehot(np.array([1]), 2.0).tolist() == [[0.0, 1.0]]  # integer labels work too
