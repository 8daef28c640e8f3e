"""The ``quarry`` command: an interactive SQL shell, and scripts run from the command line.

* :mod:`quarry.cli.main`: command-line flags and subcommands (``quarry``, ``quarry serve``)
* :mod:`quarry.cli.repl`: the prompt (prompt_toolkit: highlighting, completion, history)
* :mod:`quarry.cli.shell`: running statements and dot commands, printing results
* :mod:`quarry.cli.script`: where statements end
* :mod:`quarry.cli.completion`: Tab completion against the catalog
* :mod:`quarry.cli.formats`: output modes (table, csv, tsv, json, markdown, parquet, arrow)
* :mod:`quarry.cli.runner`: the worker thread that makes queries cancellable, and the spinner

See ``docs/shell.md`` for the user's guide.
"""
