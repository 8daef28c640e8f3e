"""quarry: a SQL-first query engine on Apache Arrow.

    >>> import quarry
    >>> con = quarry.connect()
    >>> con.sql("SELECT 1 + 1 AS two").to_arrow()        # doctest: +SKIP
"""

from quarry.api.column import Column, col, lit
from quarry.api.dataframe import DataFrame, GroupedData
from quarry.errors import QuarryError
from quarry.session import Session, connect
from quarry import functions

__version__ = "0.1.0"

__all__ = ["connect", "Session", "DataFrame", "GroupedData", "Column", "col", "lit", "functions", "QuarryError",
           "__version__"]
