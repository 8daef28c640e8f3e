"""The Python front end: DataFrame, Column and the functions (``quarry.functions``).

Each call builds its logical plan with :mod:`quarry.logical.builder`, the plan builder the
SQL binder uses too (the DSL compiles to these calls); SQL text inside a call is bound by
:mod:`quarry.sql.expression`. Nothing here runs a query until an action asks for rows.
"""
