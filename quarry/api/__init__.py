"""The Python front end: DataFrame, Column and the functions (``quarry.functions``).

Each call builds logical plan through :mod:`quarry.logical.builder`-style helpers shared
with SQL and the DSL; nothing here runs a query until an action asks for rows.
"""
