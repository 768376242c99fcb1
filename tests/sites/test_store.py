"""The activation store does not trust its index: every shard path stays inside the store, and
every shard's header agrees with the index's rows, shapes and dtypes before anything is read."""

import json

import pytest
import torch
from torch import nn

from nerve.errors import SiteError
from nerve.sites import ActivationStore, write_activations

SITES = ["0", "1"]  # a Linear(4, 3) and the ReLU after it: rows of shape [3], float32


@pytest.fixture
def model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU()).eval()


def batches():
    g = torch.Generator().manual_seed(0)
    return [torch.randn(2, 4, generator=g) for _ in range(2)]


@pytest.fixture
def store(model, tmp_path):
    """A store of two shards of two rows each, and a second store beside it to point at."""
    write_activations(model, batches(), SITES, tmp_path / "other")
    return write_activations(model, batches(), SITES, tmp_path / "acts").path


def edit_index(path, change):
    data = json.loads((path / "index.json").read_text())
    change(data)
    (path / "index.json").write_text(json.dumps(data))


def test_a_valid_store_opens_and_reads_every_row(store):
    assert len(ActivationStore(store)) == 4 and ActivationStore(store).read("1").shape == (4, 3)


def test_a_shard_path_out_of_the_store_is_refused(store):
    edit_index(store, lambda d: d["shards"][1].update(file="../other/shard_00001.safetensors"))
    with pytest.raises(
        SiteError, match=r"index.json shard 1 \(`\.\./other/shard_00001\.safetensors`\) must be "
    ):
        ActivationStore(store)


def test_an_absolute_shard_path_is_refused(store):
    absolute = str((store.parent / "other" / "shard_00001.safetensors").resolve())
    edit_index(store, lambda d: d["shards"][1].update(file=absolute))
    with pytest.raises(SiteError, match=r"shard 1 \(`/.*`\) must be a file name inside the store directory"):
        ActivationStore(store)


def test_a_shard_symlinked_out_of_the_store_is_refused(store):
    (store / "shard_00001.safetensors").unlink()
    (store / "shard_00001.safetensors").symlink_to(store.parent / "other" / "shard_00001.safetensors")
    with pytest.raises(
        SiteError, match=r"shard 1 \(`shard_00001.safetensors`\) is not a file inside the store"
    ):
        ActivationStore(store)


def test_a_shard_listed_twice_is_refused(store):
    edit_index(store, lambda d: d["shards"].__setitem__(1, d["shards"][0]))
    with pytest.raises(
        SiteError, match=r"shard 1 \(`shard_00000.safetensors`\) must be `shard_00001.safetensors`"
    ):
        ActivationStore(store)


def test_a_missing_shard_file_is_refused(store):
    (store / "shard_00001.safetensors").unlink()
    with pytest.raises(
        SiteError, match=r"shard 1 \(`shard_00001.safetensors`\) is not a file inside the store"
    ):
        ActivationStore(store)


def test_rows_that_disagree_with_the_shard_are_refused(store):
    edit_index(store, lambda d: d["shards"][0].update(rows=3))
    with pytest.raises(
        SiteError, match=r"shard_00000.safetensors site '0' is \[2, 3\] float32, but the index says \[3, 3\]"
    ):
        ActivationStore(store)


def test_a_shape_that_disagrees_with_the_shard_is_refused(store):
    edit_index(store, lambda d: d["sites"]["1"].update(shape=[4]))
    with pytest.raises(SiteError, match=r"site '1' is \[2, 3\] float32, but the index says \[2, 4\] float32"):
        ActivationStore(store)


def test_a_dtype_that_disagrees_with_the_shard_is_refused(store):
    edit_index(store, lambda d: d["sites"]["0"].update(dtype="float64"))
    with pytest.raises(SiteError, match=r"site '0' is \[2, 3\] float32, but the index says \[2, 3\] float64"):
        ActivationStore(store)


def test_a_site_the_shards_do_not_hold_is_refused(store):
    edit_index(store, lambda d: d["sites"].pop("1"))
    with pytest.raises(SiteError, match=r"holds sites \['0', '1'\], but the index lists \['0'\]"):
        ActivationStore(store)


@pytest.mark.parametrize("cut", ["binary", "truncated"])
def test_an_index_that_is_not_json_is_refused(store, cut):
    text = (store / "index.json").read_bytes()
    (store / "index.json").write_bytes(
        b"\x00\xff\xfe\x80 garbage" if cut == "binary" else text[: len(text) // 2]
    )
    with pytest.raises(SiteError, match=r"index.json is not valid JSON"):
        ActivationStore(store)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(sites=[]), r"field `sites` \(=\[\]\) must be an object"),
        (lambda d: d.update(shards={}), r"field `shards` \(=\{\}\) must be a list"),
        (
            lambda d: d["shards"][0].update(rows="2"),
            r"shard 0 `rows` \(='2'\) must be a non-negative integer",
        ),
        (
            lambda d: d["shards"][0].update(rows=True),
            r"shard 0 `rows` \(=True\) must be a non-negative integer",
        ),
        (lambda d: d["shards"][0].update(rows=-2), r"shard 0 `rows` \(=-2\) must be a non-negative integer"),
        (lambda d: d["shards"][0].update(file=5), r"shard 0 \(`5`\) must be a file name"),
        (
            lambda d: d["sites"]["0"].update(shape=[3.0]),
            r"site '0' `shape` \(=\[3.0\]\) must be a list of non-neg",
        ),
        (
            lambda d: d["sites"]["0"].update(dtype="_dynamo"),
            r"site '0' `dtype` \(='_dynamo'\) must be a torch dtype",
        ),
    ],
    ids=[
        "sites-list",
        "shards-dict",
        "rows-str",
        "rows-bool",
        "rows-negative",
        "file-int",
        "shape-float",
        "dtype",
    ],
)
def test_an_index_field_of_the_wrong_type_is_refused(store, change, message):
    edit_index(store, change)
    with pytest.raises(SiteError, match=message):
        ActivationStore(store)


def test_an_index_that_is_not_an_object_is_refused(store):
    (store / "index.json").write_text("[1, 2]")
    with pytest.raises(SiteError, match=r"index.json holds a list, not a JSON object"):
        ActivationStore(store)


def test_a_corrupt_shard_is_refused(store):
    (store / "shard_00001.safetensors").write_bytes(b"this is not a safetensors file")
    with pytest.raises(
        SiteError, match=r"shard .*shard_00001.safetensors is not a readable safetensors file"
    ):
        ActivationStore(store)


def test_resume_checks_the_index_it_continues(model, store):
    edit_index(store, lambda d: d["shards"][1].update(file="../other/shard_00001.safetensors"))
    with pytest.raises(SiteError, match=r"must be a file name inside the store directory"):
        write_activations(model, batches(), SITES, store, resume=True)
