"""``import quarry.functions as F``: the public name of :mod:`quarry.api.functions`.

The functions live in the front-end wing (``quarry/api/``) with DataFrame and Column;
this module makes that same module object importable under its short, documented
name (as ``pyspark.sql.functions`` is), so there is one definition of each function.
"""

import sys

from quarry.api import functions as _functions

sys.modules[__name__] = _functions
