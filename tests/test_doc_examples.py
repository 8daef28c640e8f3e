"""Every fenced code block in README.md and docs/*.md runs as written, or says why not.

The rule is the project's: a code example in the documentation must run as written.
This module finds every fenced block and decides what to do with it from its info
string and from an HTML comment on the line before it (blank lines in between are
allowed):

==========================================  ===============================================
block                                       what the test does
==========================================  ===============================================
```python                                   runs it; the blocks of one file run in order in
                                            one namespace (a doctest session), in a fresh
                                            temporary working directory
```sql                                      runs it with ``con.sql`` in a session holding the
                                            TPC-H demo tables (SF 0.01, as ``quarry --demo``);
                                            the SQL blocks of one file share that session
```dsl                                      runs each pipeline with ``con.dsl`` in that same
                                            session; a line starting with ``from `` at the
                                            left margin starts the next pipeline
```bash / ```sh / ```shell                  runs it with ``bash -e`` (a pipeline's status is its
                                            last command's, as in a terminal: ``quarry ... |
                                            head`` stops quarry early) in the same working
                                            directory, with the test venv's ``bin``
                                            first on PATH (so ``quarry`` and ``python`` are
                                            the venv's) and ``.venv`` linked to the venv, so
                                            ``.venv/bin/python ...`` works as in a checkout
``<!-- background: why -->`` + shell        starts it in the background, waits until it
                                            prints its first line (a server saying it is
                                            ready), and stops it at the end of the file; it
                                            must not exit before then
```text / ```console / ```json              not run: output, transcripts, diagrams, data
``<!-- not run: why -->``                   not run, for the reason given (an interactive
                                            session, ``pip install``, SF 1 and larger)
``<!-- excerpt: path/in/repo.py -->``       not run; every line of the block must appear in
                                            that file, in order (``...`` lines skip code), so
                                            quoted code cannot drift from the code
==========================================  ===============================================

Anything else fails `test_every_block_runs_or_says_why`: a block without an info string,
or in a language that cannot run here (```java) without a ``not run`` reason. Nothing is
skipped silently.

Promised output is checked where the doc states it:

- ``print(x)  # -> value``: what the call prints must be ``value``, or, when ``value``
  evaluates as a Python literal (``Decimal`` and ``datetime`` allowed), ``x`` must equal
  it. Printed text longer than a line continues on the comment lines below, indented to
  the text after ``-> ``::

      print(err)
      # -> Catalog error: table `trip` does not exist
      #    HINT: did you mean `trips`?

  A promise whose print never ran fails too. Plain comments (without ``->``) are prose.
- ``-- -> a = false, b = NULL, c = 2``, as the last line of a SQL block: the first row of
  the block's result has these values.

Each file runs in a subprocess of its own (``python tests/test_doc_examples.py ...``), so
an example that hangs or crashes fails its file's test with the line of the block it was
in, instead of taking pytest down. The demo data is generated once, into the cache the other
tests use (``<repo>/.quarry-cache``, see ``tests/conftest.py``), and each file gets a copy of
it as its own ``QUARRY_CACHE_DIR`` (3 MB), so an example that regenerates the data
(``datagen --force``) cannot disturb other tests.
"""

from __future__ import annotations

import ast
import datetime
import io
import json
import linecache
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tokenize
import traceback
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = REPO_ROOT / ".quarry-cache"
DOC_FILES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]

PYTHON = {"python"}
SQL = {"sql"}
DSL = {"dsl"}
SHELL = {"bash", "sh", "shell"}
NOT_CODE = {"text", "console", "json"}
RUNNABLE = ("python", "sql", "dsl", "shell", "background")

FILE_TIMEOUT = 300          # seconds for all the blocks of one file (a safety net)
SHELL_TIMEOUT = 180         # seconds for one shell block
BACKGROUND_READY = 60       # seconds a background block may take to print its first line

_FENCE = re.compile(r"^(`{3,}|~{3,})\s*([^`\s]*)[^`]*$")
_MARKER = re.compile(r"^<!--\s*(not run|background|excerpt)\s*:\s*(.*?)\s*-->\s*$")


# -- finding the blocks --------------------------------------------------------------------------

@dataclass
class Block:
    """One fenced code block of a markdown file."""

    path: Path
    line: int                     # 1-based line of the opening fence
    info: str                     # the info string's first word, lower case ("" if none)
    text: str
    marker: str | None = None     # "not run", "background", "excerpt"
    reason: str = ""

    @property
    def where(self) -> str:
        return f"{_rel(self.path)}:{self.line}"

    def action(self) -> str:
        """What the test does with the block: python, sql, dsl, shell, background, excerpt, skip.

        Raises ValueError, saying what to write, for a block that neither runs nor says why.
        """
        if self.marker is not None and not self.reason:
            raise ValueError(f"{self.where}: `<!-- {self.marker}: ... -->` needs a reason after the colon")
        if self.marker == "not run":
            return "skip"
        if self.marker == "excerpt":
            return "excerpt"
        if self.marker == "background":
            if self.info not in SHELL:
                raise ValueError(f"{self.where}: only shell blocks can run in the background, "
                                 f"not ```{self.info}")
            return "background"
        if self.info in PYTHON:
            return "python"
        if self.info in SQL:
            return "sql"
        if self.info in DSL:
            return "dsl"
        if self.info in SHELL:
            return "shell"
        if self.info in NOT_CODE:
            return "skip"
        if not self.info:
            raise ValueError(f"{self.where}: a code block needs an info string: ```text for output, "
                             "diagrams and transcripts, or the language it is written in")
        raise ValueError(f"{self.where}: ```{self.info} cannot run in the test suite; say why before the "
                         "block with `<!-- not run: REASON -->`")


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def parse_blocks(path: Path, text: str | None = None) -> list[Block]:
    """Return the fenced code blocks of a markdown file, with the marker comment before each."""
    lines = (path.read_text(encoding="utf-8") if text is None else text).splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence, info = opening.group(1), opening.group(2).lower()
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not (lines[j].startswith(fence[0] * len(fence))
                                      and not lines[j].strip(fence[0]).strip()):
            body.append(lines[j])
            j += 1
        if j == len(lines):
            raise ValueError(f"{_rel(path)}:{i + 1}: the code block is never closed")
        block = Block(path, i + 1, info, "\n".join(body) + "\n")
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        marker = _MARKER.match(lines[k].strip()) if k >= 0 else None
        if marker:
            block.marker, block.reason = marker.group(1), marker.group(2)
        blocks.append(block)
        i = j + 1
    return blocks


# -- promised output -----------------------------------------------------------------------------

@dataclass(eq=False)
class Promise:
    """A ``print(...)  # -> value`` in a Python block."""

    line: int                    # the line of the ``# ->`` comment
    first: int                   # the print call's lines
    last: int
    expected: str
    checked: int = 0


def find_promises(source: str, where: str) -> list[Promise]:
    """Return the ``# ->`` promises of a Python block (line numbers as in ``source``)."""
    lines = source.splitlines()
    tree = ast.parse(source)
    prints = {}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Name) and node.value.func.id == "print"):
            prints[node.end_lineno] = node.value
    promises = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type != tokenize.COMMENT or not re.match(r"#\s*->", tok.string):
            continue
        line = tok.start[0]
        first_text = re.sub(r"^#\s*->\s?", "", tok.string)
        expected = [first_text]
        column = tok.start[1]
        if lines[line - 1][:column].strip():            # a trailing comment: the statement on this line
            target = line
        else:                                           # on its own line: the statement above it
            target = line - 1
            while target > 0 and (not lines[target - 1].strip() or lines[target - 1].strip().startswith("#")):
                target -= 1
        indent = " " * column + "#" + " " * (len(tok.string) - len(first_text) - 1)
        nxt = line
        while nxt < len(lines) and lines[nxt].startswith(indent) and lines[nxt][len(indent):].strip():
            expected.append(lines[nxt][len(indent):].rstrip())
            nxt += 1
        call = prints.get(target)
        if call is None:
            raise ValueError(f"{where}, line {line}: a `# ->` promise must follow a print(...) call "
                             "(write `print(x)  # -> value`)")
        promises.append(Promise(line, call.lineno, call.end_lineno, "\n".join(expected)))
    return promises


_LITERAL_NAMES = {"Decimal": Decimal, "datetime": datetime, "date": datetime.date, "nan": float("nan")}


def _normalized(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip("\n").splitlines()]


def promise_kept(args: tuple, printed: str, expected: str) -> bool:
    """Whether printed text (or the single printed value) is what the doc promises."""
    if _normalized(printed) == _normalized(expected):
        return True
    if len(args) != 1:
        return False
    try:
        value = eval(expected, {"__builtins__": {}}, dict(_LITERAL_NAMES))   # the docs' own text
    except Exception:
        return False
    try:
        return bool(args[0] == value) and type(args[0]) is type(value)
    except Exception:
        return False


def parse_sql_promise(sql: str) -> dict[str, str] | None:
    """Return ``{column: SQL literal}`` of a final ``-- -> a = 1, b = NULL`` line, or None."""
    lines = [line for line in sql.strip().splitlines() if line.strip()]
    match = re.match(r"^\s*--\s*->\s*(.*)$", lines[-1]) if lines else None
    if not match:
        return None
    pairs = {}
    for item in re.split(r",\s*(?=\w+\s*=)", match.group(1).strip()):
        name, _, value = item.partition("=")
        pairs[name.strip()] = value.strip()
    return pairs


def sql_value_matches(value, literal: str) -> bool:
    """Whether a Python value from a result is the SQL literal a doc wrote for it."""
    text = literal.strip()
    if text.upper() == "NULL":
        return value is None
    if text.lower() in ("true", "false"):
        return value is (text.lower() == "true")
    if text.startswith("'") and text.endswith("'"):
        return value == text[1:-1].replace("''", "'")
    try:
        return Decimal(str(value)) == Decimal(text)
    except Exception:
        return str(value) == text


def excerpt_mismatch(block: Block) -> str | None:
    """Return why an ``excerpt`` block is not in its file, or None when every line is there in order."""
    source = REPO_ROOT / block.reason
    if not source.is_file():
        return f"{block.where}: the excerpt names `{block.reason}`, which does not exist"
    file_lines = [line.rstrip() for line in source.read_text(encoding="utf-8").splitlines()]
    position = 0
    for line in block.text.splitlines():
        line = line.rstrip()
        if not line.strip() or line.strip() == "...":
            continue
        try:
            position = file_lines.index(line, position) + 1
        except ValueError:
            return (f"{block.where}: this line of the excerpt is not in {block.reason} "
                    f"(after line {position}): {line!r}")
    return None


# -- running one file (in the child process) ----------------------------------------------------

class DocExampleError(Exception):
    """A block failed; the message names the file, the block's line and the error."""


@dataclass
class _Run:
    path: Path
    workdir: Path
    status: Path
    namespace: dict = field(default_factory=dict)
    session: object = None
    promises: dict[int, Promise] = field(default_factory=dict)
    background: list[subprocess.Popen] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def demo_session(self):
        """The SQL/DSL blocks' session: the TPC-H demo tables, registered as ``quarry --demo`` does."""
        if self.session is None:
            import quarry
            from quarry.tpch.datagen import generate, table_paths

            self.session = quarry.connect()
            for name, path in table_paths(generate(0.01)).items():
                self.session.register(name, str(path))
        return self.session

    # - python -

    def run_python(self, block: Block) -> None:
        filename = _rel(self.path)
        source = "\n" * block.line + block.text        # line numbers are the markdown file's
        for promise in find_promises(source, block.where):
            for line in range(promise.first, promise.last + 1):
                self.promises[line] = promise
        code = compile(source, filename, "exec")
        self.namespace.setdefault("__name__", "__main__")
        self.namespace["print"] = self._print
        exec(code, self.namespace)

    def _print(self, *args, **kwargs):
        caller = sys._getframe(1)
        print(*args, **kwargs)
        if caller.f_code.co_filename != _rel(self.path) or kwargs.get("file") not in (None, sys.stdout):
            return
        promise = self.promises.get(caller.f_lineno)
        if promise is None:
            return
        buffer = io.StringIO()
        print(*args, sep=kwargs.get("sep", " "), end="", file=buffer)
        printed = buffer.getvalue()
        promise.checked += 1
        if not promise_kept(args, printed, promise.expected):
            raise DocExampleError(f"line {promise.line} promises\n{_indent(promise.expected)}\n"
                                  f"but the print printed\n{_indent(printed)}")

    # - sql and dsl -

    def run_sql(self, block: Block) -> None:
        con = self.demo_session()
        result = con.sql(block.text).to_arrow()
        promised = parse_sql_promise(block.text)
        if promised is None:
            return
        if result.num_rows == 0:
            raise DocExampleError(f"the block promises {promised}, but its result has no rows")
        row = result.slice(0, 1).to_pylist()[0]
        for name, literal in promised.items():
            if name not in row:
                raise DocExampleError(f"the block promises a column `{name}`; the result has {list(row)}")
            if not sql_value_matches(row[name], literal):
                raise DocExampleError(f"the block promises {name} = {literal}, the result has {row[name]!r}")

    def run_dsl(self, block: Block) -> None:
        con = self.demo_session()
        pipelines: list[list[str]] = []
        for line in block.text.splitlines():
            if line.startswith("from ") or not pipelines:
                pipelines.append([])
            pipelines[-1].append(line)
        for pipeline in pipelines:
            con.dsl("\n".join(pipeline)).to_arrow()

    # - shell -

    def spawn(self, block: Block, **kwargs) -> subprocess.Popen:
        """Start a shell block in a process group of its own, which the parent kills at the end."""
        process = subprocess.Popen(["bash", "-e", "-c", block.text], cwd=self.workdir, env=self.env(),
                                   stdin=subprocess.DEVNULL, start_new_session=True, **kwargs)
        with open(self.status, "a") as out:
            out.write(f"pgid {process.pid}\n")
        return process

    def run_shell(self, block: Block) -> None:
        process = self.spawn(block, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            output, _ = process.communicate(timeout=SHELL_TIMEOUT)
        except subprocess.TimeoutExpired as exc:
            raise DocExampleError(f"the commands did not finish within {SHELL_TIMEOUT} s") from exc
        finally:
            _kill_group(process.pid)              # whatever the commands left running
        sys.stdout.write(output)
        if process.returncode != 0:
            raise DocExampleError(f"the commands exited with status {process.returncode}:\n"
                                  + _indent(_tail(output)))

    def start_background(self, block: Block) -> None:
        log = self.workdir / f".background-{block.line}.log"
        with open(log, "w") as out:
            process = self.spawn(block, stdout=out, stderr=subprocess.STDOUT)
        self.background.append(process)
        deadline = time.monotonic() + BACKGROUND_READY
        while "\n" not in log.read_text():
            if process.poll() is not None:
                raise DocExampleError(f"the background commands exited (status {process.returncode}) "
                                      f"before printing anything:\n{_indent(log.read_text())}")
            if time.monotonic() > deadline:
                raise DocExampleError(f"the background commands printed nothing within {BACKGROUND_READY} s")
            time.sleep(0.1)
        sys.stdout.write(log.read_text())

    def stop_background(self) -> list[str]:
        problems = []
        for process in self.background:
            if process.poll() is not None:
                problems.append(f"a background block exited early, with status {process.returncode}")
                continue
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
            _kill_group(process.pid)
        return problems


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.rstrip("\n").splitlines()) or "    (nothing)"


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def run_file(path: Path, workdir: Path, status: Path) -> list[str]:
    """Run the blocks of one markdown file in order; return the failures (at most one block's)."""
    run = _Run(path, workdir, status)
    text = path.read_text(encoding="utf-8")
    filename = _rel(path)
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
    os.chdir(workdir)
    (workdir / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    runners = {"python": run.run_python, "sql": run.run_sql, "dsl": run.run_dsl, "shell": run.run_shell,
               "background": run.start_background}
    failures = []
    ran = 0
    try:
        for block in parse_blocks(path, text):
            action = block.action()
            if action not in runners:
                continue
            with open(status, "a") as out:
                out.write(f"block {block.line} {action}\n")
            ran += 1
            try:
                runners[action](block)
            except BaseException as exc:           # SystemExit too: an example must not exit
                detail = (str(exc) if isinstance(exc, DocExampleError)
                          else _tail("".join(traceback.format_exception(exc)), 30))
                failures.append(f"{block.where}: the ```{block.info} block failed:\n{_indent(detail)}")
                break
        else:
            promises = sorted(set(run.promises.values()), key=lambda p: p.line)
            for promise in promises:
                if not promise.checked:
                    failures.append(f"{filename}:{promise.line}: the promised output was never checked: "
                                    "its print did not run")
            print(f"{filename}: ran {ran} blocks, checked {sum(p.checked > 0 for p in promises)} promises")
    finally:
        failures += [f"{filename}: {problem}" for problem in run.stop_background()]
    return failures


def _child_main(argv: list[str]) -> int:
    path, workdir, status, result = (Path(a) for a in argv)
    failures = run_file(path, workdir, status)
    result.write_text(json.dumps(failures))
    return 1 if failures else 0


# -- the tests -----------------------------------------------------------------------------------


def _blocks(path: Path) -> list[Block]:
    return parse_blocks(path)


def _actions(path: Path) -> list[tuple[Block, str | None]]:
    """The blocks of a file with their actions; None for a block that test_every_block_... reports."""
    pairs = []
    for block in _blocks(path):
        try:
            pairs.append((block, block.action()))
        except ValueError:
            pairs.append((block, None))
    return pairs


def test_every_block_runs_or_says_why():
    """No block is skipped silently: each runs, is output (```text), or carries a reason."""
    problems = []
    for path in DOC_FILES:
        for block in _blocks(path):
            try:
                block.action()
            except ValueError as err:
                problems.append(str(err))
    assert not problems, "\n".join(problems)


def test_the_markers_and_promises_are_recognized():
    """The conventions this module documents parse as documented (so a typo cannot disable them)."""
    md = ("<!-- not run: starts a shell -->\n```bash\nquarry\n```\n\n"
          "<!-- excerpt: quarry/errors.py -->\n\n```python\nx\n```\n```\nbare\n```\n")
    blocks = parse_blocks(REPO_ROOT / "x.md", md)
    assert [(b.line, b.marker, b.reason) for b in blocks] == [
        (2, "not run", "starts a shell"), (8, "excerpt", "quarry/errors.py"), (11, None, "")]
    assert blocks[0].action() == "skip" and blocks[1].action() == "excerpt"
    with pytest.raises(ValueError, match="info string"):
        blocks[2].action()
    source = "print(1)  # -> 1\nprint('a\\nb')\n# -> a\n#    b\nprint(2)  # the answer\n"
    assert [(p.line, p.first, p.expected) for p in find_promises(source, "x")] == [(1, 1, "1"),
                                                                                   (3, 2, "a\nb")]
    with pytest.raises(ValueError, match="must follow a print"):
        find_promises("x = 1  # -> 1\n", "x")
    assert promise_kept((Decimal("1.50"),), "1.50", "Decimal('1.50')")
    assert not promise_kept(((1, 2),), "(1, 2)", "[1, 2]")
    assert not promise_kept((4,), "4", "5")
    assert parse_sql_promise("SELECT 1;\n-- -> a = NULL, b = 'x, y', c = 2\n") == {
        "a": "NULL", "b": "'x, y'", "c": "2"}
    assert sql_value_matches(None, "NULL") and sql_value_matches(False, "false")
    assert not sql_value_matches(0, "false") and sql_value_matches(Decimal("2.50"), "2.5")


def test_excerpts_are_in_their_files():
    problems = [excerpt_mismatch(b) for p in DOC_FILES for b, action in _actions(p) if action == "excerpt"]
    assert not [p for p in problems if p], "\n".join(p for p in problems if p)


def test_readme_starts_with_the_two_commands():
    """README's first two blocks: install + the shell on the demo data; install + the tests."""
    first, second = _blocks(REPO_ROOT / "README.md")[:2]
    assert "pip install" in first.text and "quarry --demo" in first.text
    assert "pip install" in second.text and "[test]" in second.text and "pytest" in second.text
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    before = readme[:readme.index("```")]
    assert "```" not in before and before.count("\n## ") == 0, "nothing may come before the two commands"


def test_the_index_links_every_page():
    index = (REPO_ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\(([\w-]+\.md)(?:#[\w-]*)?\)", index))
    pages = {p.name for p in (REPO_ROOT / "docs").glob("*.md")} - {"index.md"}
    assert pages <= linked, f"docs/index.md does not link {sorted(pages - linked)}"


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors of a markdown file."""
    text = re.sub(r"^(```|~~~).*?^\1", "", path.read_text(encoding="utf-8"), flags=re.S | re.M)
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.*?)\s*$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower().replace("`", "")).replace(" ", "-")
        anchors.add(slug)
    return anchors


def test_relative_links_resolve():
    """Links between the pages (and their #anchors) point at something that exists."""
    problems = []
    for path in DOC_FILES:
        text = re.sub(r"^(```|~~~).*?^\1", "", path.read_text(encoding="utf-8"), flags=re.S | re.M)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"\w+:", target):
                continue
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.exists():
                problems.append(f"{_rel(path)}: link to a missing file: {target}")
            elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
                problems.append(f"{_rel(path)}: link to a missing heading: {target}")
    assert not problems, "\n".join(problems)


def _status(status: Path) -> list[str]:
    return status.read_text().splitlines() if status.exists() else []


def _last_block(status: Path) -> tuple[str, str]:
    """(line, kind) of the block the child started last, from its status file."""
    started = [line.split()[1:] for line in _status(status) if line.startswith("block ")]
    return tuple(started[-1]) if started else ("?", "?")


@pytest.mark.parametrize("path", DOC_FILES, ids=_rel)
def test_doc_examples_run(path, tpch_sf001, tmp_path):
    """Every runnable block of one file runs, in order, in a subprocess with a timeout."""
    if not any(action in RUNNABLE for _, action in _actions(path)):
        return                                   # nothing to run; test_every_block_... checks why
    assert tpch_sf001 == CACHE_DIR / "tpch" / "sf0.01"      # the demo data, generated once
    workdir = tmp_path / "work"
    workdir.mkdir()
    status, result = tmp_path / "status", tmp_path / "result.json"
    cache = tmp_path / "cache"
    shutil.copytree(tpch_sf001, cache / "tpch" / "sf0.01")
    env = dict(os.environ, QUARRY_CACHE_DIR=str(cache))
    child = subprocess.Popen([sys.executable, __file__, str(path), str(workdir), str(status), str(result)],
                             cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = child.communicate(timeout=FILE_TIMEOUT)
    except subprocess.TimeoutExpired:
        _kill_group(child.pid)
        output, _ = child.communicate()
        line, kind = _last_block(status)
        pytest.fail(f"{_rel(path)}:{line}: the ```{kind} block did not finish: the file's examples took "
                    f"more than {FILE_TIMEOUT} s\n{_tail(output)}")
    finally:
        # The child, its workers, and every shell block it started (each a process group of its own).
        groups = [int(line.split()[1]) for line in _status(status) if line.startswith("pgid ")]
        for pgid in [child.pid, *groups]:
            _kill_group(pgid)
    if not result.exists():
        line, kind = _last_block(status)
        pytest.fail(f"{_rel(path)}:{line}: the example runner died (status {child.returncode}) in the "
                    f"```{kind} block\n{_tail(output)}")
    failures = json.loads(result.read_text())
    if failures:
        pytest.fail("\n".join(failures) + f"\n--- output ---\n{_tail(output)}", pytrace=False)
    assert child.returncode == 0, _tail(output)


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
