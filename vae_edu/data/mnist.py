r"""MNIST from the four official IDX files: downloaded once (checksummed, written atomically), parsed here.

Book: *Training a VAE on digits*.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import math
import os
import struct
import tempfile
import urllib.request
import zlib
from pathlib import Path

import numpy as np
import torch

from ._common import DataSplits, Representation, Split, check_float_dtype, check_representation, to_representation

__all__ = ["read_idx", "load_mnist", "MNIST_FILES", "MNIST_MIRRORS", "MNIST_NUM_LEVELS"]

#: The number of grey levels of MNIST, whose pixels hold the integers 0, 1, ..., 255.
MNIST_NUM_LEVELS = 256
#: The four MNIST files and their MD5 checksums (the values torchvision checks).
MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
#: Mirrors of the original MNIST files, tried in order (yann.lecun.com refuses downloads).
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)


# ----------------------------------------------------------------------------------- IDX files
#: IDX type codes (the third byte of the magic number) → big-endian NumPy dtypes.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    r"""Read an IDX file (the format of MNIST), gzip-compressed or plain.

    The format: a magic number of four bytes — two zero bytes, a type code (``0x08`` uint8,
    ``0x09`` int8, ``0x0B`` int16, ``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64) and the
    number of dimensions $k$ — then $k$ sizes as big-endian 32-bit unsigned integers, then the
    $\prod_i n_i$ values, big-endian, in row-major order. Compression is detected from the
    content (the gzip magic bytes), not from the file name.

    Args:
        path: the file.

    Returns:
        An array of shape ``(n_1, ..., n_k)`` in native byte order.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: naming the file, if it is not a valid IDX file (bad magic number, unknown type
            code, truncated or with trailing bytes, or a corrupt gzip stream).

    Book: *Training a VAE on digits*.
    """
    path = Path(path)
    with open(path, "rb") as f:
        is_gzip = f.read(2) == b"\x1f\x8b"
    try:
        with (gzip.open(path, "rb") if is_gzip else open(path, "rb")) as f:
            data = f.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise ValueError(f"{path}: corrupt or truncated gzip stream ({exc})") from None
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] not in _IDX_DTYPES:
        raise ValueError(
            f"{path} is not an IDX file: bad magic number {data[:4].hex() or '(empty file)'} "
            f"(expected 0000, a type code in {{{', '.join(f'{c:02x}' for c in _IDX_DTYPES)}}}, the rank)"
        )
    dtype, ndim = np.dtype(_IDX_DTYPES[data[2]]), data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path} is truncated: its header declares {ndim} dimensions but the file ends first")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = math.prod(dims) * dtype.itemsize
    if len(data) - header != expected:
        state = "truncated" if len(data) - header < expected else "longer than its header says"
        raise ValueError(
            f"{path} is {state}: dimensions {dims} of {dtype.itemsize}-byte values need {expected} bytes "
            f"after the header, found {len(data) - header}"
        )
    values = np.frombuffer(data, dtype=dtype, offset=header)  # read-only, big-endian
    return values.astype(dtype.newbyteorder("="), copy=True).reshape(dims)


# ----------------------------------------------------------------------------------- MNIST
def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _download(url: str, dest: Path, md5: str, timeout: float) -> None:
    """Download ``url`` to ``dest`` atomically: a temporary file in the same directory, checked
    against ``md5``, then renamed with :func:`os.replace`. On any failure nothing is left behind."""
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        digest = hashlib.md5(usedforsecurity=False)
        with os.fdopen(fd, "wb") as f, urllib.request.urlopen(url, timeout=timeout) as response:
            while chunk := response.read(1 << 20):
                f.write(chunk)
                digest.update(chunk)
            f.flush()
            os.fsync(f.fileno())
        if digest.hexdigest() != md5:
            raise OSError(f"the downloaded file has MD5 {digest.hexdigest()}, expected {md5}")
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _fetch_mnist_file(name: str, root: Path, timeout: float) -> None:
    """Download one MNIST file into ``root``, trying each mirror; a clear error if all fail."""
    errors = []
    for mirror in MNIST_MIRRORS:
        try:
            _download(mirror + name, root / name, MNIST_FILES[name], timeout)
            return
        except (OSError, http.client.HTTPException) as exc:  # URLError, timeouts, resets, bad checksum
            errors.append(f"{mirror + name}: {exc}")
    raise OSError(
        f"could not download the MNIST file {name} ({'; '.join(errors)}). If this machine is offline, "
        f"download the four files {', '.join(MNIST_FILES)} by hand (e.g. from {MNIST_MIRRORS[0]}) into "
        f"the directory {root.resolve()}, keeping their names, and call load_mnist again."
    )


def _read_mnist_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(n, 784)`` uint8 and labels ``(n,)`` uint8 from one pair of MNIST files, checked."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(
            f"{images_path}: expected uint8 images of shape (n, 28, 28), got {images.dtype} {images.shape}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise ValueError(
            f"{labels_path}: expected {images.shape[0]} uint8 labels, one per image of {images_path.name}, "
            f"got {labels.dtype} {labels.shape}"
        )
    if labels.size and int(labels.max()) > 9:
        raise ValueError(f"{labels_path}: labels must be digits 0..9, found {int(labels.max())}")
    return images.reshape(images.shape[0], 28 * 28), labels  # (n, 784), (n,)


def load_mnist(
    root: str | os.PathLike[str],
    *,
    download: bool = True,
    representation: Representation = "unit",
    dtype: torch.dtype = torch.float32,
    num_val: int = 10_000,
    timeout: float = 60.0,
) -> DataSplits:
    r"""MNIST as train (50 000) / validation (10 000) / test (10 000) parts, downloaded once into ``root``.

    The 60 000-image official training file is split 50 000 / 10 000, as in many VAE papers (and
    the Theano tutorials' ``mnist.pkl.gz``): here the validation part is its *last* ``num_val``
    images and the training part the first ones, in file order; the test part is the official
    10 000-image test file. The four files
    (:data:`MNIST_FILES`) are looked for in ``root``; missing ones are downloaded from
    :data:`MNIST_MIRRORS` to a temporary file, checked against their MD5 and renamed into place,
    so an interrupted download never leaves a partial file. Every file's MD5 is checked on every
    load, and the IDX format is parsed here (:func:`read_idx`), without torchvision.

    Args:
        root: directory holding (or to receive) the four ``*-ubyte.gz`` files; created if needed.
        download: download missing files; with ``False`` a missing file is an error.
        representation: ``"unit"`` — levels / 255, in $[0, 1]$; ``"binary"`` — 1 where
            levels / 255 ≥ 0.5 (levels ≥ 128), else 0, a fixed binarization (stochastic
            binarization is a different, also common, choice); ``"levels"`` — the integers 0..255.
        dtype: floating-point dtype of the images.
        num_val: size of the validation part, $1 \le$ ``num_val`` $<$ the training file's size.
        timeout: seconds to wait for a mirror before trying the next one.

    Returns:
        A :class:`DataSplits` whose parts have ``x`` of shape ``(n, 784)`` (28×28 images, row by
        row) and ``y`` of shape ``(n,)``, dtype ``int64``.

    Raises:
        FileNotFoundError: with ``download=False``, naming the missing files and ``root``.
        OSError: if a download fails (offline, every mirror unreachable), saying which files to
            download by hand and where to put them.
        ValueError: naming the file, if a file is corrupt (wrong checksum, not IDX, truncated).

    Book: *Training a VAE on digits*.
    """
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a str or os.PathLike directory, got {type(root).__name__}")
    if not isinstance(download, bool):
        raise TypeError(f"download must be a bool, got {type(download).__name__}")
    check_representation(representation)
    check_float_dtype(dtype)
    if isinstance(num_val, bool) or not isinstance(num_val, int) or num_val < 1:
        raise ValueError(f"num_val must be an int >= 1, got {num_val!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    root = Path(root).expanduser()
    if root.exists() and not root.is_dir():
        raise ValueError(f"root must be a directory, got the file {root}")
    missing = [name for name in MNIST_FILES if not (root / name).is_file()]
    if missing and not download:
        raise FileNotFoundError(
            f"MNIST file(s) {', '.join(missing)} not found in the directory {root.resolve()}; call "
            f"load_mnist(..., download=True) or download them by hand from {MNIST_MIRRORS[0]} into it"
        )
    if missing:
        root.mkdir(parents=True, exist_ok=True)
    for name in missing:
        _fetch_mnist_file(name, root, float(timeout))
    for name, md5 in MNIST_FILES.items():
        actual = _md5(root / name)
        if actual != md5:
            raise ValueError(
                f"{root / name} is corrupt: its MD5 is {actual}, expected {md5}; delete it and call "
                f"load_mnist again to download it afresh"
            )
    paths = [root / name for name in MNIST_FILES]
    train_x, train_y = _read_mnist_pair(paths[0], paths[1])  # (60000, 784), (60000,)
    test_x, test_y = _read_mnist_pair(paths[2], paths[3])  # (10000, 784), (10000,)
    n_train = train_x.shape[0] - num_val
    if n_train < 1:
        raise ValueError(f"num_val must be smaller than the {train_x.shape[0]} training images, got {num_val}")

    def part(levels: np.ndarray, labels: np.ndarray) -> Split:
        x = to_representation(levels, representation, MNIST_NUM_LEVELS, dtype)  # (n, 784)
        return Split(x, torch.as_tensor(labels, dtype=torch.int64))

    return DataSplits(
        part(train_x[:n_train], train_y[:n_train]),
        part(train_x[n_train:], train_y[n_train:]),
        part(test_x, test_y),
    )
