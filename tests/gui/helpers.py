"""Checks on rendered pictures: a test must be able to tell an empty image from a plot."""
import numpy as np
from PySide6 import QtGui


def image_array(img: QtGui.QImage) -> np.ndarray:
    img = img.convertToFormat(QtGui.QImage.Format.Format_RGBA8888)
    ptr = img.constBits()
    arr = np.frombuffer(ptr, dtype=np.uint8, count=img.sizeInBytes())
    # Copy: the buffer belongs to the converted QImage, which dies when we return.
    return arr.reshape(img.height(), img.bytesPerLine() // 4, 4)[:, : img.width(), :3].copy()


def assert_not_blank(img, min_colors: int = 20) -> None:
    """The picture has real content: many distinct colours and some spread."""
    if isinstance(img, (str, bytes)) or hasattr(img, "__fspath__"):
        img = QtGui.QImage(str(img))
    assert not img.isNull(), "image could not be read"
    arr = image_array(img)
    colors = len(np.unique(arr.reshape(-1, 3)[:: max(1, arr.size // 3 // 200_000)], axis=0))
    assert colors >= min_colors, f"image looks blank: only {colors} colours"
    assert arr.std() > 5, "image looks blank: almost no contrast"
