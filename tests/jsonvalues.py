"""A Hypothesis strategy for any JSON value: what a hostile producer may put in any field."""

from __future__ import annotations

from hypothesis import strategies as st

# Integers beyond 64 bits and NaN/infinity too: json.dumps writes them, and the decoder must
# refuse them as clearly as it takes everything else.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=5,
)
