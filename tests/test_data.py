"""Tests of :mod:`vae_edu.data`: the digits split, the IDX parser, the MNIST loader (on small
IDX files written here; the network is never touched) and the 2-D Gaussian-mixture toy data."""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import socket
import struct
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
from bad_inputs import assert_rejected, reject
from sklearn.datasets import load_digits

from vae_edu import data
from vae_edu.data import (
    DIGITS_NUM_LEVELS,
    MNIST_FILES,
    MNIST_MIRRORS,
    assign_modes,
    gaussian_mixture_2d_centres,
    gaussian_mixture_2d_log_prob,
    load_digits_split,
    load_mnist,
    make_gaussian_mixture_2d,
    read_idx,
)

F32, F64 = torch.float32, torch.float64
TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS = MNIST_FILES


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that tries to open a URL or a socket; tests that fake a download patch
    ``urllib.request.urlopen`` themselves."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a test tried to use the network: {args}")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


# ----------------------------------------------------------------------------- digits
@pytest.fixture(scope="module")
def sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    digits = load_digits()
    return digits.data, digits.target


@pytest.mark.parametrize("representation", ["levels", "unit", "binary"])
def test_digits_split_sizes_and_dataset_order(representation, sklearn_digits) -> None:
    levels, target = sklearn_digits
    splits = load_digits_split(representation)
    parts = [splits.train, splits.val, splits.test]
    assert [len(p) for p in parts] == [1000, 350, 447]
    for part in parts:
        assert part.x.shape == (len(part), 64) and part.y.shape == (len(part),)
        assert part.x.dtype == F32 and part.y.dtype == torch.int64
    # the parts are consecutive rows of sklearn's array: train = rows 0..999, val = 1000..1349, test = the rest
    np.testing.assert_array_equal(torch.cat([p.y for p in parts]).numpy(), target)
    if representation == "levels":
        np.testing.assert_array_equal(torch.cat([p.x for p in parts]).numpy(), levels)


def test_digits_representations_values(dtype, sklearn_digits) -> None:
    levels = torch.as_tensor(sklearn_digits[0], dtype=F64)  # (1797, 64), integers 0..16
    x = {}
    for representation in ("levels", "unit", "binary"):
        splits = load_digits_split(representation, dtype=dtype)
        x[representation] = torch.cat([splits.train.x, splits.val.x, splits.test.x])  # (1797, 64)
    assert all(v.dtype == dtype for v in x.values())
    assert torch.equal(x["levels"].double(), levels)
    assert set(x["levels"].unique().tolist()) == set(range(DIGITS_NUM_LEVELS))
    assert torch.equal(x["unit"].double(), levels / 16)  # k / 16 is exact in float32 too
    assert x["unit"].min().item() == 0.0 and x["unit"].max().item() == 1.0
    assert set(x["binary"].unique().tolist()) == {0.0, 1.0}
    assert torch.equal(x["binary"].double(), (levels >= 8).double())  # levels / 16 >= 1/2
    assert 0.3 < x["binary"].mean().item() < 0.5  # digits: most pixels are background


def test_digits_parts_own_their_memory() -> None:
    """Each part holds only its own rows (not a view of all 1797), so editing one leaves the others alone."""
    splits = load_digits_split(dtype=F64)
    for part, n in [(splits.train, 1000), (splits.val, 350), (splits.test, 447)]:
        assert part.x.untyped_storage().nbytes() == n * 64 * 8
        assert part.y.untyped_storage().nbytes() == n * 8


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"representation": "scaled"}, ValueError, "representation"),
        ({"representation": 3}, ValueError, "representation"),
        ({"representation": None}, ValueError, "representation"),
        ({"dtype": torch.int64}, TypeError, "dtype"),
        ({"dtype": "float32"}, TypeError, "dtype"),
        ({"dtype": np.float32}, TypeError, "dtype"),
    ],
)
def test_digits_bad_arguments(kwargs, error, name) -> None:
    with pytest.raises(error, match=rf"\b{name}\b"):
        load_digits_split(**kwargs)


# ----------------------------------------------------------------------------- IDX format
IDX_CODES = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}


def idx_bytes(array: np.ndarray, code: int | None = None) -> bytes:
    """An IDX file's bytes, written from the format's definition (not by the code under test)."""
    kind = array.dtype.str[1:]  # e.g. "u1", "f4"
    code = IDX_CODES[kind] if code is None else code
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(">" + kind).tobytes()


def write(path: Path, content: bytes, *, compress: bool = False) -> Path:
    path.write_bytes(gzip.compress(content) if compress else content)
    return path


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("kind", list(IDX_CODES))
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4)], ids=str)
def test_read_idx_round_trip(tmp_path, kind, shape, compress) -> None:
    rng = np.random.default_rng(0)
    if kind[0] == "f":
        array = rng.normal(size=shape).astype(kind)
    else:
        info = np.iinfo(kind)
        array = rng.integers(info.min, info.max, size=shape, endpoint=True).astype(kind)
    out = read_idx(write(tmp_path / "a-idx", idx_bytes(array), compress=compress))
    assert out.shape == shape and out.dtype == np.dtype(kind)
    assert out.dtype.isnative and out.flags.writeable
    np.testing.assert_array_equal(out, array)


def test_read_idx_known_bytes(tmp_path) -> None:
    """A hand-written int16 file: 0x0102 = 258 and 0xFFFE = -2, big-endian."""
    content = bytes([0, 0, 0x0B, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0x01, 0x02, 0xFF, 0xFE])
    np.testing.assert_array_equal(read_idx(write(tmp_path / "x", content)), [[258, -2]])


def test_read_idx_detects_gzip_by_content_not_name(tmp_path) -> None:
    array = np.arange(6, dtype=np.uint8).reshape(2, 3)
    gz_named_plain = write(tmp_path / "plain.gz", idx_bytes(array))
    plain_named_gz = write(tmp_path / "compressed-ubyte", idx_bytes(array), compress=True)
    np.testing.assert_array_equal(read_idx(gz_named_plain), array)
    np.testing.assert_array_equal(read_idx(plain_named_gz), array)


GOOD = idx_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4))


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "magic"),
        (b"\x00\x00", "magic"),
        (b"\x01" + GOOD[1:], "magic"),  # first byte must be 0
        (GOOD[:2] + b"\x0a" + GOOD[3:], "magic"),  # 0x0A is not a type code
        (GOOD[:8], "truncated"),  # header declares 2 dimensions, the file ends after 1
        (GOOD[:-1], "truncated"),
        (GOOD + b"\x00", "longer"),
    ],
    ids=["empty", "2-bytes", "magic", "type-code", "header", "data", "trailing"],
)
def test_read_idx_corrupt_files_name_the_file(tmp_path, content, match, compress) -> None:
    path = write(tmp_path / "broken-idx3-ubyte", content, compress=compress)
    with pytest.raises(ValueError, match=match) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_truncated_gzip_stream(tmp_path) -> None:
    compressed = gzip.compress(GOOD)
    path = write(tmp_path / "cut.gz", compressed[: len(compressed) - 6])
    with pytest.raises(ValueError, match="gzip") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_missing_file(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        read_idx(tmp_path / "nothing-here")


# ----------------------------------------------------------------------------- MNIST
N_TRAIN, N_TEST = 12, 5


def fake_mnist_arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        TRAIN_IMAGES: rng.integers(0, 256, size=(N_TRAIN, 28, 28), dtype=np.uint8),
        TRAIN_LABELS: rng.integers(0, 10, size=N_TRAIN, dtype=np.uint8),
        TEST_IMAGES: rng.integers(0, 256, size=(N_TEST, 28, 28), dtype=np.uint8),
        TEST_LABELS: rng.integers(0, 10, size=N_TEST, dtype=np.uint8),
    }


def use_checksums_of(monkeypatch: pytest.MonkeyPatch, files: dict[str, bytes]) -> None:
    """Make the loader expect the MD5s of our small files instead of the real ones."""
    for name, content in files.items():
        monkeypatch.setitem(MNIST_FILES, name, hashlib.md5(content).hexdigest())


@pytest.fixture
def fake_files(monkeypatch) -> dict[str, bytes]:
    """The gzip-compressed bytes of four small MNIST-like files, with their MD5s installed."""
    files = {name: gzip.compress(idx_bytes(a)) for name, a in fake_mnist_arrays().items()}
    use_checksums_of(monkeypatch, files)
    return files


@pytest.fixture
def mnist_root(tmp_path, fake_files) -> Path:
    root = tmp_path / "mnist"
    root.mkdir()
    for name, content in fake_files.items():
        (root / name).write_bytes(content)
    return root


def test_mnist_files_and_checksums() -> None:
    """The official names and MD5s (as torchvision lists them), in train-images/labels, test order."""
    assert MNIST_FILES == {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }
    assert list(MNIST_FILES) == [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS]
    assert all(m.startswith("https://") and m.endswith("/") for m in MNIST_MIRRORS)


@pytest.mark.parametrize("download", [False, True])
def test_load_mnist_split_order_and_values(mnist_root, dtype, download) -> None:
    """With every file present nothing is downloaded (the network guard would fail the test)."""
    a = fake_mnist_arrays()
    train = a[TRAIN_IMAGES].reshape(N_TRAIN, 784).astype(np.float64)
    test = a[TEST_IMAGES].reshape(N_TEST, 784).astype(np.float64)
    for representation, f in [("levels", lambda v: v), ("unit", lambda v: v / 255), ("binary", lambda v: v >= 128)]:
        splits = load_mnist(mnist_root, download=download, representation=representation, dtype=dtype, num_val=4)
        assert [len(splits.train), len(splits.val), len(splits.test)] == [8, 4, 5]
        for part in (splits.train, splits.val, splits.test):
            assert part.x.shape == (len(part), 784) and part.x.dtype == dtype and part.y.dtype == torch.int64
        # validation = the LAST num_val images of the training file, train = the first ones
        expected = {"train": f(train[:8]), "val": f(train[8:]), "test": f(test)}
        for key, value in expected.items():
            part = getattr(splits, key)
            np.testing.assert_array_equal(part.x.numpy(), np.asarray(value, dtype=part.x.numpy().dtype))
        np.testing.assert_array_equal(splits.train.y.numpy(), a[TRAIN_LABELS][:8])
        np.testing.assert_array_equal(splits.val.y.numpy(), a[TRAIN_LABELS][8:])
        np.testing.assert_array_equal(splits.test.y.numpy(), a[TEST_LABELS])


def test_load_mnist_binary_threshold_is_half_intensity(tmp_path, monkeypatch) -> None:
    """Levels 127 → 0 and 128 → 1 (127/255 < 1/2 <= 128/255); 'unit' maps 255 to exactly 1."""
    images = np.zeros((3, 28, 28), dtype=np.uint8)
    images[0, 0, :4] = [0, 127, 128, 255]
    arrays = {TRAIN_IMAGES: images, TRAIN_LABELS: np.array([1, 2, 3], np.uint8),
              TEST_IMAGES: images[:1], TEST_LABELS: np.array([9], np.uint8)}
    files = {name: gzip.compress(idx_bytes(arr)) for name, arr in arrays.items()}
    use_checksums_of(monkeypatch, files)
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    binary = load_mnist(tmp_path, download=False, representation="binary", num_val=1)
    unit = load_mnist(tmp_path, download=False, representation="unit", num_val=1)
    assert binary.test.x[0, :4].tolist() == [0.0, 0.0, 1.0, 1.0]
    assert unit.test.x[0, 3].item() == 1.0 and unit.test.x[0, 1].item() == pytest.approx(127 / 255, rel=1e-7)
    assert binary.test.y.tolist() == [9] and binary.val.y.tolist() == [3]


def test_load_mnist_missing_file_without_download_names_file_and_directory(mnist_root) -> None:
    (mnist_root / TEST_LABELS).unlink()
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(mnist_root, download=False, num_val=4)
    message = str(info.value)
    assert TEST_LABELS in message and str(mnist_root.resolve()) in message
    assert TRAIN_IMAGES not in message  # only the missing file is named


def test_load_mnist_missing_directory_without_download(tmp_path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(tmp_path / "absent", download=False)
    assert all(name in str(info.value) for name in MNIST_FILES)
    assert not (tmp_path / "absent").exists()  # nothing created without a download


def fake_urlopen(
    serve: Callable[[str], bytes], calls: list[str]
) -> Callable[..., io.BytesIO]:
    def urlopen(url: str, timeout: float | None = None) -> io.BytesIO:
        calls.append(url)
        return io.BytesIO(serve(url))

    return urlopen


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir())


def test_load_mnist_offline_says_what_to_do(tmp_path, monkeypatch) -> None:
    calls: list[str] = []

    def offline(url: str, timeout: float | None = None) -> None:
        calls.append(url)
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    root = tmp_path / "mnist"
    with pytest.raises(OSError) as info:
        load_mnist(root)
    message = str(info.value)
    assert "by hand" in message and str(root.resolve()) in message
    assert all(name in message for name in MNIST_FILES)  # the four names to download
    assert "name resolution" in message  # the underlying reason
    assert calls == [m + TRAIN_IMAGES for m in MNIST_MIRRORS]  # every mirror tried, then stop
    assert leftovers(root) == []  # no partial or temporary file


def test_load_mnist_downloads_missing_files_atomically(tmp_path, monkeypatch, fake_files) -> None:
    """The first mirror is down, the second serves; only the missing files are fetched."""
    calls: list[str] = []

    def serve(url: str) -> bytes:
        if url.startswith(MNIST_MIRRORS[0]):
            raise urllib.error.URLError("mirror down")
        return fake_files[url.rsplit("/", 1)[1]]

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen(serve, calls))
    root = tmp_path / "mnist"
    root.mkdir()
    (root / TRAIN_LABELS).write_bytes(fake_files[TRAIN_LABELS])  # already there: not downloaded
    splits = load_mnist(root, num_val=2)
    assert len(splits.train) == N_TRAIN - 2 and len(splits.test) == N_TEST
    fetched = [name for name in MNIST_FILES if name != TRAIN_LABELS]
    assert calls == [m + name for name in fetched for m in MNIST_MIRRORS]
    assert leftovers(root) == sorted(MNIST_FILES)  # the four files and nothing else
    assert all((root / name).read_bytes() == content for name, content in fake_files.items())


def test_load_mnist_creates_root(tmp_path, monkeypatch, fake_files) -> None:
    calls: list[str] = []
    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen(lambda u: fake_files[u.rsplit("/", 1)[1]], calls))
    root = tmp_path / "a" / "b"
    assert len(load_mnist(root, num_val=2).val) == 2
    assert calls == [MNIST_MIRRORS[0] + name for name in MNIST_FILES]
    assert leftovers(root) == sorted(MNIST_FILES)


class BrokenResponse(io.BytesIO):
    """Serves its first chunk, then the connection drops."""

    def read(self, size: int | None = -1) -> bytes:
        if self.tell() > 0:
            raise ConnectionResetError("connection reset by peer")
        return super().read(7)


def test_interrupted_download_leaves_no_partial_file(tmp_path, monkeypatch, fake_files) -> None:
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: BrokenResponse(fake_files[TRAIN_IMAGES]))
    with pytest.raises(OSError, match="connection reset") as info:
        load_mnist(tmp_path)
    assert TRAIN_IMAGES in str(info.value)
    assert leftovers(tmp_path) == []


def test_download_with_wrong_checksum_is_rejected(tmp_path, monkeypatch, fake_files) -> None:
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: io.BytesIO(b"<html>not found</html>"))
    with pytest.raises(OSError, match="MD5") as info:
        load_mnist(tmp_path)
    assert TRAIN_IMAGES in str(info.value) and MNIST_FILES[TRAIN_IMAGES] in str(info.value)
    assert leftovers(tmp_path) == []


def test_load_mnist_wrong_checksum_names_the_file(mnist_root) -> None:
    path = mnist_root / TEST_IMAGES
    content = bytearray(path.read_bytes())
    content[20] ^= 0xFF  # one flipped byte inside the compressed data
    path.write_bytes(bytes(content))
    with pytest.raises(ValueError, match="MD5") as info:
        load_mnist(mnist_root, download=False, num_val=4)
    assert str(path) in str(info.value)


def test_load_mnist_real_checksums_reject_small_files(mnist_root, monkeypatch, fake_files) -> None:
    """Without the test's checksums, the real MD5s reject our small files."""
    monkeypatch.undo()
    with pytest.raises(ValueError, match=r"MD5.*f68b3c2dcbeaaa9fbdd348bbdeb94873") as info:
        load_mnist(mnist_root, download=False, num_val=4)
    assert TRAIN_IMAGES in str(info.value)


@pytest.mark.parametrize(
    ("name", "array", "match"),
    [
        (TRAIN_IMAGES, np.zeros((N_TRAIN, 27, 27), np.uint8), r"\(n, 28, 28\)"),
        (TRAIN_IMAGES, np.zeros((N_TRAIN, 28, 28), np.int16), r"\(n, 28, 28\)"),
        (TEST_LABELS, np.zeros(N_TEST + 1, np.uint8), "labels"),
        (TEST_LABELS, np.full(N_TEST, 10, np.uint8), "0..9"),
    ],
    ids=["image-size", "image-dtype", "label-count", "label-value"],
)
def test_load_mnist_wrong_contents_name_the_file(mnist_root, monkeypatch, name, array, match) -> None:
    content = gzip.compress(idx_bytes(array))
    (mnist_root / name).write_bytes(content)
    use_checksums_of(monkeypatch, {name: content})
    with pytest.raises(ValueError, match=match) as info:
        load_mnist(mnist_root, download=False, num_val=4)
    assert str(mnist_root / name) in str(info.value)


@pytest.mark.parametrize("content", [b"\x00\x00\x08\x03\x00", gzip.compress(GOOD)[:-5]], ids=["truncated", "bad-gzip"])
def test_load_mnist_corrupt_file_names_the_file(mnist_root, monkeypatch, content) -> None:
    (mnist_root / TRAIN_LABELS).write_bytes(content)
    use_checksums_of(monkeypatch, {TRAIN_LABELS: content})
    with pytest.raises(ValueError) as info:
        load_mnist(mnist_root, download=False, num_val=4)
    assert str(mnist_root / TRAIN_LABELS) in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"root": 3}, TypeError, "root"),
        ({"root": None}, TypeError, "root"),
        ({"download": "yes"}, TypeError, "download"),
        ({"representation": "grey"}, ValueError, "representation"),
        ({"dtype": torch.uint8}, TypeError, "dtype"),
        ({"num_val": 0}, ValueError, "num_val"),
        ({"num_val": 2.5}, ValueError, "num_val"),
        ({"num_val": True}, ValueError, "num_val"),
        ({"num_val": N_TRAIN}, ValueError, "num_val"),  # leaves no training images
        ({"num_val": 10_000}, ValueError, "num_val"),  # the default needs the real 60 000 images
        ({"timeout": 0}, ValueError, "timeout"),
        ({"timeout": "60"}, ValueError, "timeout"),
    ],
)
def test_load_mnist_bad_arguments(mnist_root, kwargs, error, name) -> None:
    args = {"root": mnist_root, "download": False, "num_val": 4, **kwargs}
    with pytest.raises(error, match=rf"\b{name}\b"):
        load_mnist(args.pop("root"), **args)


def test_load_mnist_root_is_a_file(tmp_path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match=r"\broot\b"):
        load_mnist(tmp_path / "f")


# ----------------------------------------------------------------------------- 2-D toy mixture
@pytest.mark.parametrize(("num_modes", "radius"), [(8, 2.0), (3, 1.0), (12, 5.0)])
def test_ring_centres(num_modes, radius, dtype) -> None:
    centres = gaussian_mixture_2d_centres("ring", num_modes, radius, dtype=dtype)
    assert centres.shape == (num_modes, 2) and centres.dtype == dtype
    tol = {"rtol": 1e-6, "atol": 1e-6} if dtype == F32 else {"rtol": 1e-14, "atol": 1e-14}
    torch.testing.assert_close(centres.norm(dim=-1), torch.full((num_modes,), radius, dtype=dtype), **tol)
    torch.testing.assert_close(centres[0], torch.tensor([radius, 0.0], dtype=dtype), **tol)
    step = (centres.roll(-1, dims=0) - centres).norm(dim=-1)  # neighbours: 2 r sin(pi / K) apart
    torch.testing.assert_close(step, torch.full_like(step, 2 * radius * math.sin(math.pi / num_modes)), **tol)


def test_grid_centres(dtype) -> None:
    centres = gaussian_mixture_2d_centres("grid", dtype=dtype)  # 5 x 5, spacing 2
    assert centres.shape == (25, 2) and centres.dtype == dtype
    axis = [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert centres.tolist() == [[a, b] for a in axis for b in axis]
    assert gaussian_mixture_2d_centres("grid", 4, 1.0).tolist() == [[-0.5, -0.5], [-0.5, 0.5], [0.5, -0.5], [0.5, 0.5]]


@pytest.mark.parametrize(("kind", "num_modes"), [("ring", 8), ("grid", 25)])
def test_mixture_samples_have_the_stated_distribution(kind, num_modes) -> None:
    """Mode frequencies 1/K and x - c_y ~ N(0, std^2 I), each within 4 standard errors."""
    n, std = 40_000, 0.05
    toy = make_gaussian_mixture_2d(n, kind, std=std, generator=torch.Generator().manual_seed(0), dtype=F64)
    assert toy.x.shape == (n, 2) and toy.y.shape == (n,) and toy.centres.shape == (num_modes, 2)
    assert toy.y.dtype == torch.int64 and toy.std == std and len(toy) == n
    torch.testing.assert_close(toy.centres, gaussian_mixture_2d_centres(kind, dtype=F64), rtol=0, atol=0)
    p = 1 / num_modes
    counts = torch.bincount(toy.y, minlength=num_modes).double()
    assert counts.shape == (num_modes,)
    assert bool(((counts - n * p).abs() <= 4 * math.sqrt(n * p * (1 - p))).all()), counts
    eps = (toy.x - toy.centres[toy.y]) / std  # (n, 2), should be standard normal
    assert bool((eps.mean(0).abs() <= 4 / math.sqrt(n)).all()), eps.mean(0)
    assert bool(((eps.var(0) - 1).abs() <= 4 * math.sqrt(2 / (n - 1))).all()), eps.var(0)
    assert abs(torch.corrcoef(eps.T)[0, 1].item()) <= 4 / math.sqrt(n)


def test_mixture_is_reproducible_and_float32_by_default() -> None:
    a = make_gaussian_mixture_2d(100, generator=torch.Generator().manual_seed(3))
    b = make_gaussian_mixture_2d(100, generator=torch.Generator().manual_seed(3))
    c = make_gaussian_mixture_2d(100, generator=torch.Generator().manual_seed(4))
    assert a.x.dtype == a.centres.dtype == F32
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not torch.equal(a.x, c.x)


@pytest.mark.parametrize("kind", ["ring", "grid"])
def test_assign_modes_recovers_labels_within_three_std(kind) -> None:
    """Points beyond 3 std of their centre get -1: a fraction exp(-9/2) = 1.11 % of them in 2-D."""
    n = 40_000
    toy = make_gaussian_mixture_2d(n, kind, generator=torch.Generator().manual_seed(1), dtype=F64)
    labels = assign_modes(toy.x, toy.centres, toy.std)
    assert labels.shape == (n,) and labels.dtype == torch.int64
    assert bool(((labels == toy.y) | (labels == -1)).all())  # never the wrong mode
    off = (labels == -1).double().mean().item()
    p = math.exp(-4.5)
    assert abs(off - p) <= 4 * math.sqrt(p * (1 - p) / n), off
    assert labels[labels >= 0].unique().numel() == toy.centres.shape[0]  # every mode covered


def test_assign_modes_boundaries(dtype) -> None:
    centres = gaussian_mixture_2d_centres("ring", dtype=dtype)  # c_0 = (2, 0), c_2 = (0, 2)
    x = torch.tensor([[2.0, 0.0], [2.0, 0.29], [2.0, 0.31], [0.0, 1.8], [0.0, 0.0], [0.0, 1.5]], dtype=dtype)
    assert assign_modes(x, centres, 0.1).tolist() == [0, 0, -1, 2, -1, -1]
    assert assign_modes(x, centres, 0.1, num_std=6.0).tolist() == [0, 0, 0, 2, -1, 2]


@pytest.mark.parametrize("batch", [(), (4,), (2, 3)], ids=str)
def test_log_prob_matches_torch_distributions(batch, dtype, gen) -> None:
    centres = gaussian_mixture_2d_centres("grid", 9, 1.5, dtype=dtype)
    std = 0.2
    x = 2.0 * torch.randn((*batch, 2), generator=gen, dtype=dtype)
    reference = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(logits=torch.zeros(9, dtype=dtype)),
        torch.distributions.Independent(torch.distributions.Normal(centres, torch.full_like(centres, std)), 1),
    ).log_prob(x)
    log_p = gaussian_mixture_2d_log_prob(x, centres, std)
    assert log_p.shape == batch and log_p.dtype == dtype
    tol = {"rtol": 1e-5, "atol": 1e-4} if dtype == F32 else {"rtol": 1e-12, "atol": 1e-10}
    torch.testing.assert_close(log_p, reference, **tol)


def test_log_prob_at_a_centre_and_far_away() -> None:
    """At a centre of well-separated modes: log N(0; 0, s^2 I) - log K. Far away: finite, and equal
    to the nearest component's log-density minus log K (the others are negligible)."""
    centres = gaussian_mixture_2d_centres("ring", dtype=F64)
    std = 0.05
    at_centre = gaussian_mixture_2d_log_prob(centres[:1], centres, std)
    torch.testing.assert_close(at_centre, torch.tensor([-math.log(2 * math.pi * std**2) - math.log(8)], dtype=F64))
    far = torch.tensor([[1000.0, 0.0]], dtype=F64)
    expected = -math.log(2 * math.pi * std**2) - (998.0**2) / (2 * std**2) - math.log(8)
    log_p = gaussian_mixture_2d_log_prob(far, centres, std)
    assert bool(torch.isfinite(log_p).all())
    torch.testing.assert_close(log_p, torch.tensor([expected], dtype=F64), rtol=1e-12, atol=0)


BAD_TOY_INPUTS = [  # vae_edu.data.toy
    *[reject(f"make_gaussian_mixture_2d-{name}-{i}", lambda kwargs=kwargs: make_gaussian_mixture_2d(
        **({"n": 10} | kwargs)), error, name)
      for i, (kwargs, error, name) in enumerate([
        ({"n": 0}, ValueError, "n"),
        ({"n": 2.5}, TypeError, "n"),
        ({"n": True}, TypeError, "n"),
        ({"kind": "square"}, ValueError, "kind"),
        ({"num_modes": 1}, ValueError, "num_modes"),
        ({"kind": "grid", "num_modes": 24}, ValueError, "num_modes"),
        ({"kind": "grid", "num_modes": 1}, ValueError, "num_modes"),
        ({"scale": 0.0}, ValueError, "scale"),
        ({"scale": float("inf")}, ValueError, "scale"),
        ({"std": 0.0}, ValueError, "std"),
        ({"std": float("nan")}, ValueError, "std"),
        ({"std": 0.3}, ValueError, "std"),  # ring of radius 2: neighbours 1.53 apart, need std < 0.255
        ({"kind": "grid", "std": 0.34}, ValueError, "std"),  # grid spacing 2: need std < 1/3
        ({"generator": 5}, TypeError, "generator"),
        ({"dtype": torch.int32}, TypeError, "dtype"),
      ])],
    *[reject(f"{fn.__name__}-{name}-{i}", lambda fn=fn, x=x, centres=centres, std=std: fn(x, centres, std), error, name)
      for fn in (assign_modes, gaussian_mixture_2d_log_prob)
      for i, (x, centres, std, error, name) in enumerate([
        (torch.zeros(3, 3), torch.zeros(2, 2), 0.1, ValueError, "x"),
        ([[0.0, 0.0]], torch.zeros(2, 2), 0.1, TypeError, "x"),
        (torch.tensor([[0.0, float("nan")]]), torch.zeros(2, 2), 0.1, ValueError, "x"),
        (torch.zeros(3, 2), torch.zeros(2, 3), 0.1, ValueError, "centres"),
        (torch.zeros(3, 2), torch.zeros(2), 0.1, ValueError, "centres"),
        (torch.zeros(3, 2), torch.zeros(2, 2, dtype=F64), 0.1, TypeError, "centres"),
        (torch.zeros(3, 2), torch.zeros(2, 2), 0.0, ValueError, "std"),
        (torch.zeros(3, 2), torch.zeros(2, 2), -1.0, ValueError, "std"),
      ])],
    reject("assign_modes-num_std", lambda: assign_modes(torch.zeros(3, 2), torch.zeros(2, 2), 0.1, num_std=0.0),
           ValueError, "num_std"),
]


@pytest.mark.parametrize(("call", "error", "pattern"), BAD_TOY_INPUTS)
def test_toy_bad_input_is_refused_by_name(call, error, pattern) -> None:
    assert_rejected(call, error, pattern)


def test_mixture_separation_limit_is_sharp() -> None:
    assert len(make_gaussian_mixture_2d(5, "grid", std=0.33)) == 5  # 6 * 0.33 < 2


def test_module_exports() -> None:
    assert set(data.__all__) <= set(dir(data))
