"""Seeded dataset generators, splits and a small CSV loader: nothing is downloaded.

* :mod:`~engine.data.toy2d` - 2-D classification sets (xor, circles, moons, spirals, blobs,
  checkerboard) and logic-gate truth tables, with :data:`DOMAIN` as their plotting range.
* :mod:`~engine.data.regression` - 1-D curves with outliers, a 2-D surface, and a synthetic
  housing table standing in for Boston Housing (which the project does not ship).
* :mod:`~engine.data.glyphs` - small images from a 5x7 bitmap font written in the source.
* :mod:`~engine.data.digits` - stroke-drawn handwritten-looking digits, shapes, oriented bars
  and a test card (chapter 9).
* :mod:`~engine.data.tasks` - paired tasks for parameter tying (section 8.4).
* :mod:`~engine.data.sequences` - toy sequence tasks (copy, reverse, sort, shift,
  histogram) for the transformer lab (chapter 11).
* :mod:`~engine.data.recurrent_tasks` - delayed recall and noisy sines for the recurrent
  lab (chapter 10).
* :mod:`~engine.data.splits` - seeded train/val/test splits, one-hot targets, standardising.
* :mod:`~engine.data.csv_points` - load and save a user's own labelled 2-D points.

Every generator takes ``rng`` as a ``numpy.random.Generator`` or an int seed (see
:func:`as_rng`) and is deterministic for a given seed.
"""
from engine.data._common import DOMAIN, as_rng
from engine.data.csv_points import DataFileError, load_points_csv, save_points_csv
from engine.data.digits import (
    BAR_ANGLES,
    SHAPE_CLASSES,
    center_of_mass_align,
    digits_split,
    make_bars,
    make_digits,
    make_shapes,
    make_test_card,
)
from engine.data.glyphs import GLYPH_FONT, glyph_template, make_glyphs
from engine.data.regression import (
    HOUSING_FEATURES,
    REGRESSION_FNS,
    housing_truth,
    make_housing_like,
    make_regression_1d,
    make_surface_2d,
    regression_truth,
    surface_truth,
)
from engine.data.sequences import (
    SEQUENCE_TASKS,
    TOKEN_ALPHABET,
    make_sequence_task,
    n_outputs,
    sequence_targets,
)
from engine.data.splits import (
    EpochSampler,
    one_hot,
    split_sizes,
    standardize,
    train_test_split,
    train_val_test_split,
    unstandardize,
)
from engine.data.tasks import make_two_tasks, rotate2d
from engine.data.toy2d import (
    CLASSIFICATION,
    LOGIC_GATES,
    blob_centers,
    make_blobs,
    make_checkerboard,
    make_circles,
    make_classification,
    make_logic,
    make_moons,
    make_spirals,
    make_xor,
    n_classes,
)

__all__ = [
    "EpochSampler",
    "BAR_ANGLES",
    "CLASSIFICATION",
    "DOMAIN",
    "GLYPH_FONT",
    "HOUSING_FEATURES",
    "LOGIC_GATES",
    "REGRESSION_FNS",
    "SHAPE_CLASSES",
    "DataFileError",
    "as_rng",
    "blob_centers",
    "center_of_mass_align",
    "digits_split",
    "glyph_template",
    "housing_truth",
    "load_points_csv",
    "make_bars",
    "make_blobs",
    "make_checkerboard",
    "make_circles",
    "make_classification",
    "make_digits",
    "make_glyphs",
    "make_housing_like",
    "make_logic",
    "make_moons",
    "make_regression_1d",
    "make_shapes",
    "make_spirals",
    "make_surface_2d",
    "make_test_card",
    "make_two_tasks",
    "make_xor",
    "n_classes",
    "one_hot",
    "regression_truth",
    "rotate2d",
    "SEQUENCE_TASKS",
    "TOKEN_ALPHABET",
    "make_sequence_task",
    "n_outputs",
    "sequence_targets",
    "save_points_csv",
    "split_sizes",
    "standardize",
    "surface_truth",
    "train_test_split",
    "train_val_test_split",
    "unstandardize",
]
