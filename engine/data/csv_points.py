"""Load and save a user's own 2-D labelled points as CSV, with errors a user can act on.

File format (UTF-8 text; a byte-order mark is tolerated)::

    # comments and blank lines are skipped anywhere
    x1,x2,label            <- optional header: a first line whose fields are not numbers
    0.25,-0.5,0
    -0.1,0.75,1

Three comma-separated values per line: two finite coordinates and an integer class label
0-9.  Every problem is reported as :class:`DataFileError` naming the file and the line.
"""
from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path

import numpy as np

from engine.io.atomic import write_text

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_LABEL",
    "DataFileError",
    "load_points_csv",
    "save_points_csv",
]

#: Files larger than this are refused before reading (a points file this big is a mistake).
MAX_FILE_BYTES = 20 * 1024 * 1024

#: Labels are class indices 0..MAX_LABEL; ten classes is plenty for a 2-D playground.
MAX_LABEL = 9

_COLUMNS = ("x1", "x2", "label")
_FLOAT32_MAX = float(np.finfo(np.float32).max)


class DataFileError(ValueError):
    """A data file that cannot be used, with the reason (and line) a user can fix.

    Attributes
    ----------
    path : str
        The file.
    line : int or None
        1-based line number of the problem, ``None`` for whole-file problems.
    problem : str
        The message without the file name.
    """

    def __init__(self, path, problem: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        self.problem = problem if line is None else f"line {line}: {problem}"
        super().__init__(f"{Path(path).name}: {self.problem}")


def _number(text: str):
    """``float(text)`` or ``None`` when the text is not a number."""
    try:
        return float(text)
    except ValueError:
        return None


def load_points_csv(path, max_rows=100_000):
    """Read labelled 2-D points from a CSV file (format in the module docstring).

    A file with a single class loads fine (it is a valid file); whether one class is enough
    is for the caller to decide.

    Parameters
    ----------
    path : str or os.PathLike
    max_rows : int
        Largest number of data rows accepted (>= 1).

    Returns
    -------
    X : ndarray of float32, shape (n, 2)
    y : ndarray of int64, shape (n,)
        Labels in 0..9.

    Raises
    ------
    DataFileError
        (a ``ValueError``) when the file cannot be read, is larger than 20 MB, is not UTF-8
        text, has no data rows, more than ``max_rows`` rows, or a bad line: the wrong
        number of values, a value that is not a number, a non-finite coordinate, or a label
        that is not an integer 0-9.
    """
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
        raise ValueError(f"max_rows must be a positive int, got {max_rows!r}")
    try:
        size = os.stat(path).st_size
        if size > MAX_FILE_BYTES:
            raise DataFileError(path, f"file is {size / 2**20:.1f} MB; the limit is "
                                      f"{MAX_FILE_BYTES // 2**20} MB")
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise DataFileError(path, f"cannot read the file ({exc.strerror or exc})") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise DataFileError(path, "file is not UTF-8 text", line) from None

    rows: list[tuple[float, float, float]] = []
    first_content = True
    # Universal newlines (\n, \r\n, \r) count lines the way a text editor does; str.splitlines
    # would also split on form feeds and Unicode separators and shift the numbers reported.
    for lineno, line in enumerate(io.StringIO(text, newline=None), start=1):
        line = line.rstrip("\n")
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            fields = [f.strip() for f in next(csv.reader(io.StringIO(line)))]
        except (csv.Error, StopIteration) as exc:
            raise DataFileError(path, f"cannot parse the line as CSV ({exc})", lineno) from None
        values = [_number(f) for f in fields]
        if first_content:
            first_content = False
            if all(v is None for v in values):
                continue        # the header: no field is a number
        if len(fields) != 3:
            raise DataFileError(path, f"expected 3 comma-separated values (x1,x2,label), "
                                      f"got {len(fields)}", lineno)
        for col, field, value in zip(_COLUMNS, fields, values):
            if value is None:
                what = f"{col} is empty" if not field else f"{field!r} is not a number ({col})"
                raise DataFileError(path, what, lineno)
        x1, x2, label = values
        for col, field, value in zip(_COLUMNS[:2], fields, values):
            if not math.isfinite(value):
                raise DataFileError(path, f"{col} is not finite ({field})", lineno)
            # 1e300 parses as a float but would become inf in the float32 array.
            if abs(value) > _FLOAT32_MAX:
                raise DataFileError(path, f"{col} = {field} is too large (|{col}| must be "
                                          f"below 3.4e38)", lineno)
        if not (math.isfinite(label) and label.is_integer() and 0 <= label <= MAX_LABEL):
            raise DataFileError(path, f"label {fields[2]} must be an integer 0-{MAX_LABEL}",
                                lineno)
        if len(rows) >= max_rows:
            raise DataFileError(path, f"too many rows: more than {max_rows} data rows "
                                      f"(the limit)", lineno)
        rows.append((x1, x2, label))
    if not rows:
        raise DataFileError(path, "no data rows (expected lines of x1,x2,label)")
    arr = np.array(rows, dtype=np.float64)
    return arr[:, :2].astype(np.float32), arr[:, 2].astype(np.int64)


def save_points_csv(path, X, y, header=True):
    """Write labelled 2-D points as CSV that :func:`load_points_csv` reads back exactly.

    Coordinates are written with 9 significant digits, enough to round-trip float32.  The
    file is replaced atomically: a reader sees the old file or the new one, never half.

    Parameters
    ----------
    path : str or os.PathLike
    X : array_like, shape (n, 2)
        Finite coordinates.
    y : array_like of int, shape (n,)
        Labels in 0..9.
    header : bool
        Write an ``x1,x2,label`` first line.

    Raises
    ------
    ValueError
        For mismatched shapes, non-finite coordinates or labels outside 0..9 (nothing is
        written then).
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2 or y.shape != (X.shape[0],) or X.shape[0] < 1:
        raise ValueError(f"need X of shape (n, 2) and y of shape (n,) with n >= 1, got "
                         f"{X.shape} and {y.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X must be finite")
    if y.dtype.kind not in "iub" and not (y.dtype.kind == "f" and np.all(y == np.round(y))):
        raise ValueError("labels must be integers 0-9")
    yi = y.astype(np.int64)
    if np.any((yi < 0) | (yi > MAX_LABEL)):
        raise ValueError(f"labels must be integers 0-{MAX_LABEL}")
    buf = io.StringIO()
    if header:
        buf.write(",".join(_COLUMNS) + "\n")
    # float32 values need 9 significant digits to survive a text round trip.
    np.savetxt(buf, np.column_stack([X.astype(np.float32).astype(np.float64), yi]),
               fmt=("%.9g", "%.9g", "%d"), delimiter=",")
    write_text(path, buf.getvalue())
