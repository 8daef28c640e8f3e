"""`bool_array` packs a numpy mask into an Arrow boolean array: it must equal pa.array's."""

import numpy as np
import pyarrow as pa
from hypothesis import given, settings, strategies as st

from quarry.compute.masks import bool_array


@settings(max_examples=200, deadline=None)
@given(st.lists(st.booleans(), max_size=300), st.integers(0, 7))
def test_bool_array_equals_arrows_conversion(values, start):
    mask = np.array(values, dtype=bool)[start:]          # a view with an offset, too
    out = bool_array(mask)
    assert out.type == pa.bool_() and out.null_count == 0
    assert out.equals(pa.array(mask, pa.bool_()))
    assert pa.table({"v": np.arange(len(mask))}).filter(out)["v"].to_pylist() == np.flatnonzero(mask).tolist()
