"""The pipeline language: DataFrame operations as text, one verb per step.

    from lineitem
    | filter l_shipdate <= date '1998-09-02'
    | group l_returnflag (n = count())
    | sort l_returnflag

``parse_pipeline(text)`` gives the AST (``quarry.dsl.ast``); ``compile_pipeline(con, text)``
turns it into a lazy :class:`quarry.DataFrame` by calling the DataFrame API, one call per
verb, so a pipeline and the equivalent API chain build the same logical plan. Use it as
``con.dsl(text)``. The language is described in docs/dsl.md.
"""

from quarry.dsl.parser import parse_pipeline
from quarry.dsl.compiler import compile_pipeline

__all__ = ["parse_pipeline", "compile_pipeline"]
