"""Output modes: how the shell shows a query's rows (table, csv, tsv, json, markdown, parquet, arrow).

``table`` is the boxed display (:func:`quarry.display.format_table`): it needs every
row (for column widths, head and tail), so the shell collects the result first. Every
other mode is a format of the one result writer, :mod:`quarry.catalog.writer` (the one
``COPY`` and ``DataFrame.write_*`` use): the text modes stream rows to the current
output as the query produces them, and the file modes write ``FILE``, which replaces
the old file only once complete.

    >>> MODES
    ('table', 'csv', 'tsv', 'json', 'markdown', 'parquet', 'arrow')
"""

from __future__ import annotations

from quarry.catalog.writer import BINARY_FORMATS, TEXT_FORMATS

TEXT_MODES = ("table",) + TEXT_FORMATS
FILE_MODES = BINARY_FORMATS
MODES = TEXT_MODES + FILE_MODES

__all__ = ["FILE_MODES", "MODES", "TEXT_MODES"]
