"""The ``quarry`` command: an interactive SQL shell, and scripts run from the command line.

* :mod:`cli.main`: command-line flags and subcommands (``quarry``, ``quarry serve``)
* :mod:`cli.repl`: the prompt (prompt_toolkit: highlighting, completion, history)
* :mod:`cli.shell`: running statements and dot commands, printing results
* :mod:`cli.script`: where statements end
* :mod:`cli.completion`: Tab completion against the catalog
* :mod:`cli.formats`: output modes (table, csv, tsv, json, markdown, parquet, arrow)
* :mod:`cli.runner`: the worker thread that makes queries cancellable, and the spinner

See ``docs/shell.md`` for the user's guide.
"""
