"""quarry: a SQL-first query engine on Apache Arrow.

    >>> import quarry
    >>> con = quarry.connect()
    >>> con.sql("SELECT 1 + 1 AS two").to_arrow()        # doctest: +SKIP
"""

from quarry.dataframe import DataFrame
from quarry.errors import QuarryError
from quarry.session import Session, connect

__version__ = "0.1.0"

__all__ = ["connect", "Session", "DataFrame", "QuarryError", "__version__"]
