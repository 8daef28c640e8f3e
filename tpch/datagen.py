"""Generate TPC-H data as Parquet with ``tpchgen-cli`` and cache it on disk.

Each table becomes one file, ``<dir>/<table>.parquet``, or, with ``parts=N``, a
directory of N files, ``<dir>/<table>/<table>.<i>.parquet`` (the small tables get
fewer). Both layouts are read the same way (`table_paths` returns whichever is
there), and the default is one file per table below SF 100 and ``parts`` =
SF / 10 from SF 100 up (see `default_parts`). The default directory is
``~/.cache/quarry/tpch/sf<SF>``; set ``QUARRY_CACHE_DIR`` to move the root
(``$QUARRY_CACHE_DIR/tpch/sf<SF>``).

The generator writes into a temporary directory next to the target and the files
are moved into place only once all eight are complete, so an interrupted run
never leaves a truncated table behind: at worst some tables are missing, and the
next call regenerates them.

Run as a script to fill the cache::

    python -m quarry.tpch.datagen --sf 0.01 [--out DIR] [--parts N] [--force]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import sysconfig
import uuid
from pathlib import Path

__all__ = [
    "TABLES",
    "DataGenerationError",
    "default_dir",
    "default_parts",
    "find_generator",
    "generate",
    "missing_tables",
    "table_paths",
]

TABLES: tuple[str, ...] = (
    "region",
    "nation",
    "supplier",
    "customer",
    "part",
    "partsupp",
    "orders",
    "lineitem",
)

GENERATOR = "tpchgen-cli"
_INSTALL_HINT = "install it with `pip install tpchgen-cli` (it is a dependency of quarry)"


class DataGenerationError(RuntimeError):
    """Raised when TPC-H data cannot be generated."""


def scale_label(scale_factor: float) -> str:
    """Return the scale factor as written in directory names: ``1``, ``0.01``, ``10``."""
    return f"{float(scale_factor):g}"


def cache_root() -> Path:
    """Return quarry's cache root: ``$QUARRY_CACHE_DIR`` or ``~/.cache/quarry``."""
    env = os.environ.get("QUARRY_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "quarry"


def default_dir(scale_factor: float) -> Path:
    """Return the default data directory for a scale factor, e.g. ``~/.cache/quarry/tpch/sf1``."""
    return cache_root() / "tpch" / f"sf{scale_label(scale_factor)}"


def default_parts(scale_factor: float) -> int | None:
    """Return how many files per table to generate by default: None (one) below SF 100.

    From SF 100 up, lineitem alone is tens of GB; SF / 10 parts keeps each file near
    the size of SF 10's single file and lets ``tpchgen-cli`` write the parts in parallel.

    >>> default_parts(10), default_parts(100), default_parts(1000)
    (None, 10, 100)
    """
    if float(scale_factor) < 100:
        return None
    return int(float(scale_factor) // 10)


def _table_entry(data_dir: Path, name: str) -> Path:
    """Return ``<dir>/<table>.parquet``, or ``<dir>/<table>`` when only the directory exists."""
    single = data_dir / f"{name}.parquet"
    folder = data_dir / name
    if not single.exists() and folder.is_dir():
        return folder
    return single


def table_paths(data_dir: str | Path) -> dict[str, Path]:
    """Return each TPC-H table's Parquet file, or its directory of parts, in ``data_dir``.

    A table is ``<data_dir>/<table>.parquet`` (one file) or ``<data_dir>/<table>/``
    (the files of ``--parts``); where neither exists the file path is returned.
    Both `quarry.connect().register` and DuckDB (``<dir>/*.parquet``) read either.
    """
    data_dir = Path(data_dir)
    return {name: _table_entry(data_dir, name) for name in TABLES}


def _is_complete(path: Path) -> bool:
    """Return whether ``path`` is a Parquet file or a directory with at least one."""
    if path.is_dir():
        return any(path.glob("*.parquet"))
    return path.is_file()


def missing_tables(data_dir: str | Path) -> list[str]:
    """Return the tables absent from ``data_dir`` in both layouts (empty when complete)."""
    return [name for name, path in table_paths(data_dir).items() if not _is_complete(path)]


def find_generator() -> Path:
    """Locate the ``tpchgen-cli`` executable, preferring the running interpreter's environment.

    Looks next to ``sys.executable`` first (a virtualenv's ``bin/`` that is not on
    ``PATH``), then in the interpreter's scripts directory, then on ``PATH``.
    """
    exe_name = GENERATOR + (".exe" if os.name == "nt" else "")
    candidates = [Path(sys.executable).parent / exe_name]
    scripts = sysconfig.get_path("scripts")
    if scripts:
        candidates.append(Path(scripts) / exe_name)
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(GENERATOR)
    if found:
        return Path(found)
    raise DataGenerationError(
        f"cannot find the TPC-H generator `{GENERATOR}` next to {sys.executable} or on PATH; "
        + _INSTALL_HINT
    )


def generate(
    scale_factor: float,
    out_dir: str | Path | None = None,
    *,
    force: bool = False,
    parts: int | None = None,
) -> Path:
    """Create TPC-H Parquet files for ``scale_factor`` and return their directory.

    Does nothing when all eight tables already exist (in either layout), unless
    ``force`` is true. ``parts`` splits each table into that many files in a
    directory per table (``tpchgen-cli --parts``); None means `default_parts`, and 1
    asks for one file per table.

    >>> data_dir = generate(0.01)                      # doctest: +SKIP
    >>> sorted(p.name for p in data_dir.glob("*.parquet"))[:2]  # doctest: +SKIP
    ['customer.parquet', 'lineitem.parquet']
    """
    scale_factor = float(scale_factor)
    if not scale_factor > 0:
        raise ValueError(f"scale factor must be positive, got {scale_factor}")
    out_dir = Path(out_dir).expanduser() if out_dir is not None else default_dir(scale_factor)
    if parts is not None and parts < 1:
        raise ValueError(f"parts must be at least 1, got {parts}")
    if not force and not missing_tables(out_dir):
        return out_dir
    if parts is None:
        parts = default_parts(scale_factor)

    generator = find_generator()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # The temporary directory sits next to the target so the final moves are renames
    # within one file system, which are atomic.
    # mkdir (unlike tempfile.mkdtemp) honours the umask, so the final directory gets
    # the usual permissions.
    tmp_dir = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp_dir.mkdir()
    try:
        _run_generator(generator, scale_factor, tmp_dir, parts)
        absent = missing_tables(tmp_dir)
        if absent:
            raise DataGenerationError(
                f"{GENERATOR} finished but did not write {', '.join(absent)} in {tmp_dir}; "
                f"check that your {GENERATOR} writes <table>.parquet (or <table>/ with "
                "--parts) per table"
            )
        _move_into_place(tmp_dir, out_dir)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return out_dir


def _run_generator(
    generator: Path, scale_factor: float, out_dir: Path, parts: int | None
) -> None:
    """Run ``tpchgen-cli parquet`` into ``out_dir``, raising DataGenerationError on failure."""
    command = [
        str(generator),
        "parquet",
        "--scale-factor",
        scale_label(scale_factor),
        "--output-dir",
        str(out_dir),
    ]
    if parts is not None and parts > 1:
        command += ["--parts", str(parts)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise DataGenerationError(
            f"cannot run {generator}: {exc}; " + _INSTALL_HINT
        ) from exc
    if result.returncode != 0:
        output = (result.stderr or result.stdout or "").strip()
        tail = "\n".join(output.splitlines()[-20:])
        raise DataGenerationError(
            f"`{' '.join(command)}` failed with exit status {result.returncode}:\n{tail}\n"
            "hint: check the scale factor, free disk space, and `tpchgen-cli --version`"
        )


def _move_into_place(tmp_dir: Path, out_dir: Path) -> None:
    """Move the generated tables from ``tmp_dir`` into ``out_dir``."""
    if not out_dir.exists():
        try:
            tmp_dir.rename(out_dir)
            return
        except OSError:
            pass  # Another process created it meanwhile; fall through to per-file moves.
    out_dir.mkdir(parents=True, exist_ok=True)
    fresh = table_paths(tmp_dir)
    # Remove the old tables, in both layouts, first so an interruption leaves tables
    # missing (and thus regenerated next time) rather than a mix of old and new data.
    for name in TABLES:
        (out_dir / f"{name}.parquet").unlink(missing_ok=True)
        shutil.rmtree(out_dir / name, ignore_errors=True)
    for name in TABLES:
        os.replace(fresh[name], out_dir / fresh[name].name)


def main(argv: list[str] | None = None) -> int:
    """Generate TPC-H data from the command line and print its directory."""
    parser = argparse.ArgumentParser(
        prog="python -m quarry.tpch.datagen",
        description="Generate TPC-H Parquet files (one per table, or a directory of "
        "--parts files per table) with tpchgen-cli, cached.",
    )
    parser.add_argument("--sf", type=float, default=1.0, help="scale factor (default 1)")
    parser.add_argument(
        "--out",
        default=None,
        help="output directory (default $QUARRY_CACHE_DIR or ~/.cache/quarry, + tpch/sf<SF>)",
    )
    parser.add_argument(
        "--parts",
        type=int,
        default=None,
        help="files per table, each table a directory (default: 1 below SF 100, else SF/10)",
    )
    parser.add_argument("--force", action="store_true", help="regenerate even if cached")
    args = parser.parse_args(argv)
    if args.parts is not None and args.parts < 1:
        parser.error("--parts must be at least 1")
    target = Path(args.out).expanduser() if args.out else default_dir(args.sf)
    if args.force or missing_tables(target):
        print(f"generating TPC-H SF {scale_label(args.sf)} into {target} ...", file=sys.stderr)
    try:
        data_dir = generate(args.sf, target, force=args.force, parts=args.parts)
    except (DataGenerationError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(data_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
