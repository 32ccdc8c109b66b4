import numpy as np
import pytest
import torch

from course_utils.checks import CheckError, as_array, assert_close, assert_equal, assert_finite, assert_shape


def test_close_passes_within_tolerance():
    assert assert_close(0.1 + 0.2, 0.3, "sum") is None
    assert_close(torch.tensor([1.0, 2.0]), np.array([1.0, 2.0 + 1e-9]), "tensor")
    assert_close([np.nan, np.inf], [np.nan, np.inf], "non-finite agree")


def test_close_message_says_expected_got_and_where():
    with pytest.raises(CheckError) as info:
        assert_close([[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0], [3.0, 5.0]], "weights")
    message = str(info.value)
    assert "weights" in message and "1 of 4" in message and "(1, 1)" in message
    assert "expected 5.0, got 4.0" in message


def test_close_scalar_message():
    with pytest.raises(CheckError, match=r"sigmoid\(0\): expected 0.5, got 0.6"):
        assert_close(0.6, 0.5, "sigmoid(0)")


def test_close_reports_nan_where_a_number_was_expected():
    with pytest.raises(CheckError, match="expected 1.0, got nan"):
        assert_close([0.0, np.nan], [0.0, 1.0], "probabilities")


def test_close_shape_mismatch_is_not_broadcast():
    with pytest.raises(CheckError, match=r"expected shape \(3,\), got shape \(3, 1\)"):
        assert_close(np.zeros((3, 1)), np.zeros(3), "column")


def test_none_and_strings_are_clear():
    with pytest.raises(CheckError, match="got None"):
        assert_close(None, 1.0, "answer")
    with pytest.raises(CheckError, match="expected numbers"):
        assert_close("abc", 1.0, "answer")
    with pytest.raises(CheckError, match="ragged: expected a number or an array"):
        as_array([1, [2, 3]], "ragged")


def test_equal():
    assert_equal([0, 0, 0, 1], np.array([0, 0, 0, 1]), "AND")
    with pytest.raises(CheckError, match=r"AND: 1 of 4 value\(s\) differ; first at index \(3,\): expected 1, got 0"):
        assert_equal([0, 0, 0, 0], [0, 0, 0, 1], "AND")
    with pytest.raises(CheckError, match="expected 3, got 2"):
        assert_equal(2, 3, "count")


def test_shape_and_finite():
    assert_shape(np.zeros((4, 2)), (4, 2), "X")
    with pytest.raises(CheckError, match=r"X: expected shape \(4, 2\), got shape \(2, 4\)"):
        assert_shape(np.zeros((2, 4)), (4, 2), "X")
    assert_finite([1.0, 2.0], "loss")
    with pytest.raises(CheckError, match=r"loss: expected finite numbers, got inf at index \(1,\)"):
        assert_finite([1.0, np.inf], "loss")


def test_check_error_is_an_assertion_error():
    assert issubclass(CheckError, AssertionError)
