"""The shared-model store: put a checkpoint, open it by reference, bounds, unknown ids, safety."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

import cnnviz
from cnnviz.models.store import (
    PREFIX,
    STORE_ENV,
    ModelStore,
    default_root,
    default_store,
    is_shared,
)


def _checkpoint(model: cnnviz.Model) -> bytes:
    buffer = io.BytesIO()
    cnnviz.save_checkpoint(model, buffer)
    return buffer.getvalue()


@pytest.fixture
def lenet(random_model: Callable[[str], cnnviz.Model]) -> cnnviz.Model:
    return random_model("lenet5")


def test_shared_model_has_the_same_weights_and_labels(tmp_path: Path, lenet: cnnviz.Model) -> None:
    store = ModelStore(tmp_path)
    shared = store.share(_checkpoint(lenet))
    assert shared.arch == "lenet5"
    assert is_shared(shared.ref)
    model = store.load(shared.ref)
    assert model.weights == "shared"
    assert model.trained
    assert model.labels == lenet.labels
    assert model.key == f"lenet5:{shared.ref}"
    for (name, want), got in zip(
        lenet.module.state_dict().items(), model.module.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(got, want, msg=name)
    x = torch.rand(1, 1, 32, 32)
    with torch.inference_mode():
        torch.testing.assert_close(model.module(x), lenet.module(x))


def test_load_model_opens_a_shared_reference_from_the_env_store(
    tmp_path: Path, lenet: cnnviz.Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STORE_ENV, str(tmp_path / "store"))
    assert default_root() == tmp_path / "store"
    ref = ModelStore.default().share(_checkpoint(lenet)).ref
    model = cnnviz.load_model("lenet5", ref)  # what ?weights=shared-<id> does on every page
    assert model.weights_source.startswith(f"Shared with the class ({ref}")
    with pytest.raises(cnnviz.ModelError, match="is a LeNet-5: choose LeNet-5"):
        cnnviz.load_model("tinyvgg", ref)


def test_default_root_is_in_the_users_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(STORE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere/cache")
    assert default_root() == Path("/somewhere/cache/cnnviz/shared")


def test_ids_are_unguessable_and_distinct(tmp_path: Path, lenet: cnnviz.Model) -> None:
    store = ModelStore(tmp_path, max_models=50)
    data = _checkpoint(lenet)
    refs = {store.share(data).ref for _ in range(20)}
    assert len(refs) == 20
    for ref in refs:
        ident = ref.removeprefix(PREFIX)
        assert len(ident) == 16  # 96 random bits, URL-safe base64
    assert len(store.entries()) == 20


@pytest.mark.parametrize(
    "ref",
    ["shared-doesnotexist0000", "shared-../../etc/passwd", "shared-", "shared-AAAAAAAAAAAAAAAA"],
)
def test_unknown_or_malformed_ids_get_a_sentence(tmp_path: Path, ref: str) -> None:
    with pytest.raises(cnnviz.ModelError, match=r"^There is no shared model .* Ask for a new link"):
        ModelStore(tmp_path).load(ref)


def test_oldest_removed_first_by_count(tmp_path: Path, lenet: cnnviz.Model) -> None:
    store = ModelStore(tmp_path, max_models=3)
    data = _checkpoint(lenet)
    refs = []
    for age in range(3):
        shared = store.share(data)
        os.utime(shared.path, ns=(10**18 + age, 10**18 + age))  # strictly ordered by age
        refs.append(shared.ref)
    newest = store.share(data).ref
    kept = {PREFIX + p.stem for p in store.entries()}
    assert kept == {refs[1], refs[2], newest}
    with pytest.raises(cnnviz.ModelError, match="removed to make room"):
        store.load(refs[0])


def test_oldest_removed_first_by_size(tmp_path: Path, lenet: cnnviz.Model) -> None:
    data = _checkpoint(lenet)
    two_and_a_half = 2.5 * len(data) / 2**20  # room for two files, not three
    store = ModelStore(tmp_path, max_models=10, max_megabytes=two_and_a_half)
    first = store.share(data)
    os.utime(first.path, ns=(10**18, 10**18))
    second = store.share(data)
    third = store.share(data)
    assert [p.stem for p in store.entries()][-1] == third.path.stem
    assert not first.path.exists()
    assert second.path.exists()


def test_too_large_for_the_store_is_refused(tmp_path: Path, lenet: cnnviz.Model) -> None:
    store = ModelStore(tmp_path, max_megabytes=0.01)
    with pytest.raises(cnnviz.ModelError, match="larger than the shared-model store holds"):
        store.share(_checkpoint(lenet))
    assert store.entries() == []


def test_a_bare_state_dict_without_architecture_is_refused(
    tmp_path: Path, lenet: cnnviz.Model
) -> None:
    buffer = io.BytesIO()
    torch.save(lenet.module.state_dict(), buffer)
    with pytest.raises(cnnviz.ModelError, match="does not say which architecture"):
        ModelStore(tmp_path).share(buffer.getvalue())


class _Evil:
    def __reduce__(self):  # would run code when unpickled without weights_only
        return (os.system, ("echo pwned",))


def test_pickled_code_is_refused_when_shared_and_when_loaded(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    torch.save({"state_dict": {}, "meta": {"arch": "lenet5"}, "x": _Evil()}, buffer)
    store = ModelStore(tmp_path)
    with pytest.raises(cnnviz.ModelError, match="refuses"):
        store.share(buffer.getvalue())
    planted = tmp_path / "AAAAAAAAAAAAAAAA.pt"  # a file put there behind the store's back
    planted.write_bytes(buffer.getvalue())
    with pytest.raises(cnnviz.ModelError, match="refuses"):
        store.load(PREFIX + planted.stem)


def test_unwritable_store_says_which_variable_to_set(tmp_path: Path, lenet: cnnviz.Model) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(cnnviz.ModelError, match=STORE_ENV):
        ModelStore(blocker / "store").share(_checkpoint(lenet))


def test_a_model_shared_by_one_process_opens_in_another_through_the_same_folder(
    tmp_path: Path, lenet: cnnviz.Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two replicas of a school: each its own process, the same CNNVIZ_SHARED."""
    import subprocess
    import sys

    (tmp_path / "model.pt").write_bytes(_checkpoint(lenet))
    share = (
        "import pathlib, sys; from cnnviz.models.store import default_store; "
        "print(default_store().share(pathlib.Path(sys.argv[1]).read_bytes()).ref)"
    )
    env = {**os.environ, STORE_ENV: str(tmp_path / "store")}
    done = subprocess.run(
        [sys.executable, "-c", share, str(tmp_path / "model.pt")],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    ref = done.stdout.strip()
    monkeypatch.setenv(STORE_ENV, str(tmp_path / "store"))
    assert isinstance(default_store(), ModelStore)
    model = default_store().load(ref)
    assert model.key == f"lenet5:{ref}"
    x = torch.rand(1, 1, 32, 32)
    with torch.inference_mode():
        torch.testing.assert_close(model.module(x), lenet.module(x))
