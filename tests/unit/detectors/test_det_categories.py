"""Categorical encoding (unseen values to the other code) and code counts."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from detectors import (
    OTHER_LABEL,
    CategoricalEncoder,
    DetectorInputError,
    DetectorTypeError,
    category_counts,
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text(max_size=4), min_size=1, max_size=12, unique=True),
    st.lists(st.text(max_size=4), max_size=60),
)
def test_encode_strings_matches_twin(
    naive: ModuleType, domain: list[str], values: list[str]
) -> None:
    enc = CategoricalEncoder(domain)
    sample = values + domain[::2]
    np.testing.assert_array_equal(enc.encode(sample), naive.encode(domain, sample))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(-1000, 1000), min_size=1, max_size=12, unique=True),
    st.lists(st.integers(-1000, 1000), max_size=60),
)
def test_encode_ints_matches_twin(naive: ModuleType, domain: list[int], values: list[int]) -> None:
    enc = CategoricalEncoder(domain)
    sample = values + domain
    np.testing.assert_array_equal(
        enc.encode(np.array(sample, dtype=np.int64)), naive.encode(domain, sample)
    )


def test_encoder_layout() -> None:
    enc = CategoricalEncoder(["b", "a", "c"])
    assert enc.n_categories == 4
    assert enc.other_code == 3
    assert enc.labels == ("b", "a", "c", OTHER_LABEL)
    np.testing.assert_array_equal(enc.encode(["a", "zz", "b", ""]), [1, 3, 0, 3])
    assert CategoricalEncoder.from_values(["y", "x", "y"]).domain == ("x", "y")


def test_int_domain_accepts_integral_floats_only() -> None:
    enc = CategoricalEncoder([1, 2, 30])
    np.testing.assert_array_equal(enc.encode([1.0, 2.5, np.nan, 30.0, np.inf]), [0, 3, 3, 2, 3])
    with pytest.raises(DetectorTypeError, match="values must be integers"):
        enc.encode(["1"])


@pytest.mark.parametrize(
    ("domain", "error", "match"),
    [
        ([], DetectorInputError, "domain must not be empty"),
        (["a", "a"], DetectorInputError, "domain must not contain duplicates"),
        (["a", 1], DetectorTypeError, "only str or only int"),
        ([1.5, 2.5], DetectorTypeError, "only str or only int"),
        ([True, False], DetectorTypeError, "only str or only int"),
    ],
)
def test_encoder_rejects_bad_domain(domain: list[object], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        CategoricalEncoder(domain)  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 50).flatmap(
        lambda k: st.tuples(
            st.just(k), hnp.arrays(np.int64, st.integers(0, 400), elements=st.integers(0, k - 1))
        )
    )
)
def test_category_counts_match_bincount(naive: ModuleType, case: tuple[int, np.ndarray]) -> None:
    k, codes = case
    np.testing.assert_array_equal(category_counts(codes, k), naive.category_counts(codes, k))


@pytest.mark.parametrize("codes", [[0, 3], [-1, 0], [4]])
def test_category_counts_rejects_out_of_range(codes: list[int]) -> None:
    with pytest.raises(DetectorInputError, match=r"codes must lie in \[0, 3\)"):
        category_counts(codes, 3)


def test_category_counts_rejects_float_codes() -> None:
    with pytest.raises(DetectorTypeError, match="codes must hold integers"):
        category_counts([0.0, 1.0], 3)


def test_string_domain_is_exact() -> None:
    enc = CategoricalEncoder(["", "a"])
    # numpy's fixed-width strings would turn "\x00" into "" and "a\x00" into "a".
    np.testing.assert_array_equal(enc.encode(["\x00", "a\x00", None, 1, "a"]), [2, 2, 2, 2, 1])
    np.testing.assert_array_equal(enc.encode(np.array(["a", ""])), [1, 0])
    with pytest.raises(DetectorTypeError, match="hashable"):
        enc.encode([["a"]])
