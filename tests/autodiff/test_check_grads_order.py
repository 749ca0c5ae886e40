"""check_grads names the order of the derivative that failed (it used to count down)."""

import numpy as np
import pytest

import tapegrad as tg


def _wrong_first_derivative():
    @tg.custom_gradient
    def bad_square(x):
        def grad(dy):
            return dy * 3.0 * x

        return x * x, grad

    return bad_square


def _wrong_second_derivative():
    @tg.custom_gradient
    def frozen(x):
        slope = tg.stop_gradient(2.0 * x)

        def grad(dy):
            return dy * slope

        return x * x, grad

    return frozen


@pytest.mark.parametrize("modes", [("rev",), ("fwd",)])
def test_wrong_first_derivative_is_reported_as_order_1(modes):
    for order in (1, 2, 3):
        with pytest.raises(AssertionError, match=r"derivative of order 1 of"):
            tg.check_grads(_wrong_first_derivative(), [np.array([0.5, 1.5])], order=order,
                           modes=modes)


def test_wrong_second_derivative_is_reported_as_order_2():
    f = _wrong_second_derivative()
    tg.check_grads(f, [np.array([0.5, 1.5])], order=1)
    for order in (2, 3):
        with pytest.raises(AssertionError, match=r"reverse-mode derivative of order 2 of"):
            tg.check_grads(f, [np.array([0.5, 1.5])], order=order)
