"""The user's own dataset layouts: class folders (PNG/JPEG/TIFF, grey/RGB), .npz, IDX of K classes."""
import gzip

import numpy as np
import pytest
from PIL import Image

from nets.data import dataset_reference, detect_format, load_dataset


def _write_folders(root, sizes=None, rgb=False, n=10, fmt="png"):
    """3 classes x n images; pixel (0, 0) encodes class * 40 + index (grey), image k of class c."""
    rng = np.random.default_rng(0)
    for c, name in enumerate(["circle", "square", "triangle"]):
        for part, count in (("train", n), ("test", 4)):
            d = root / part / name
            d.mkdir(parents=True, exist_ok=True)
            for k in range(count):
                h, w = sizes[k % len(sizes)] if sizes else (12, 10)
                a = rng.integers(0, 200, (h, w, 3) if rgb else (h, w)).astype(np.uint8)
                a[0, 0] = c * 40 + k
                Image.fromarray(a).save(d / f"{k:03d}.{fmt}")


def test_class_folders_grey_png_splits_and_labels(tmp_path):
    _write_folders(tmp_path)
    assert detect_format(tmp_path) == "class-folders"
    tr, va, te = (load_dataset(tmp_path, s, seed=3) for s in ("train", "val", "test"))
    assert tr.classes == ["circle", "square", "triangle"] and te.num_classes == 3
    assert tr.x.shape[1:] == (1, 12, 10) and len(te) == 12 and len(tr) + len(va) == 30 and len(va) == 3
    for ds in (tr, va, te):  # every image kept its own label
        code = np.rint(ds.x[:, 0, 0, 0].numpy() * 255).astype(int)
        np.testing.assert_array_equal(code // 40, ds.y.numpy())
    seen = sorted(np.rint(np.concatenate([tr.x[:, 0, 0, 0], va.x[:, 0, 0, 0]]) * 255).astype(int).tolist())
    assert seen == sorted(c * 40 + k for c in range(3) for k in range(10))  # disjoint and complete


def test_class_folders_rgb_jpeg_is_three_channels(tmp_path):
    _write_folders(tmp_path, rgb=True, fmt="jpg")
    ds = load_dataset(tmp_path, "test")
    assert ds.x.shape[1] == 3


def test_class_folders_mixed_sizes_need_resize(tmp_path):
    _write_folders(tmp_path, sizes=[(12, 10), (20, 16)])
    with pytest.raises(ValueError, match="--resize H W"):
        load_dataset(tmp_path, "train")
    ds = load_dataset(tmp_path, "train", size=(8, 6))
    assert ds.x.shape[1:] == (1, 8, 6)


def test_class_folders_16bit_tiff_pool_without_split_folders(tmp_path):
    for c in range(2):
        d = tmp_path / f"class{c}"
        d.mkdir()
        for k in range(10):
            a = np.full((6, 6), 1000 * (c + 1) + k, dtype=np.uint16)
            Image.fromarray(a).save(d / f"{k}.tif")
    tr, te = load_dataset(tmp_path, "train"), load_dataset(tmp_path, "test")
    assert len(tr) == 14 and len(te) == 4 and tr.classes == ["class0", "class1"]
    v = tr.x[:, 0, 0, 0].double().numpy() * 65535
    np.testing.assert_array_equal(np.rint(v).astype(int) // 1000 - 1, tr.y.numpy())  # 16-bit scale, not 8
    assert float(tr.x.max()) < 0.05


def test_npz_channels_last_and_own_splits(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 255, (30, 9, 7, 3), dtype=np.uint8)
    y = np.arange(30) % 5
    np.savez(tmp_path / "set.npz", x=x, y=y, x_test=x[:5], y_test=y[:5], classes=np.array(list("abcde")))
    tr, te = load_dataset(tmp_path / "set.npz", "train"), load_dataset(tmp_path / "set.npz", "test")
    assert tr.x.shape[1:] == (3, 9, 7) and tr.classes == list("abcde") and len(te) == 5
    np.testing.assert_allclose(te.x.numpy(), x[:5].transpose(0, 3, 1, 2) / 255.0, atol=1e-7)
    np.savez(tmp_path / "bad.npz", x=x, z=y)
    with pytest.raises(ValueError, match="'y'"):
        load_dataset(tmp_path / "bad.npz")


def _idx(path, a):
    codes = {np.uint8: 0x08}
    head = bytes([0, 0, codes[a.dtype.type], a.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape)
    path.write_bytes(gzip.compress(head + a.tobytes()))


def test_idx_three_classes_and_names_file(tmp_path):
    imgs = np.zeros((30, 8, 8), np.uint8)
    lab = (np.arange(30) % 3).astype(np.uint8)
    for stem, n in (("train", 30), ("t10k", 9)):
        _idx(tmp_path / f"{stem}-images-idx3-ubyte.gz", imgs[:n])
        _idx(tmp_path / f"{stem}-labels-idx1-ubyte.gz", lab[:n])
    ds = load_dataset(tmp_path, "test")
    assert ds.num_classes == 3 and ds.classes == ["0", "1", "2"]
    (tmp_path / "classes.txt").write_text("cat\ndog\nbird\n")
    assert load_dataset(tmp_path, "test").classes == ["cat", "dog", "bird"]


def test_dataset_reference_is_absolute(tmp_path, monkeypatch):
    _write_folders(tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    assert dataset_reference("data") == str((tmp_path / "data").resolve())
    assert dataset_reference("mnist5k") == "mnist5k"
