"""Tests for cnnviz.models.download and .network: downloads into the hub cache, and what
``weights="auto"`` does on line (small weights come by themselves, large ones wait) and off line.

Every server here is one the test starts on 127.0.0.1; any other host is refused (see
``weights_server.local_only``), so nothing here can reach the internet.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from weights_server import (
    WeightsServer,
    closed_port,
    connections,
    local_only,
    point_weights_at,
    weights_server,
)

from cnnviz import network
from cnnviz.errors import ModelError
from cnnviz.models import (
    AUTO_DOWNLOAD_MAX_MB,
    auto_plan,
    download_size_mb,
    download_weights,
    load_model,
    pretrained_available,
)

RANDOM = "Random, untrained weights: the predictions mean nothing."
NOT_HERE = "Pretrained weights are not on this computer: choose 'pretrained' to download them."
Progress = list[tuple[int, int | None]]


@pytest.fixture(autouse=True)
def _local_only(monkeypatch: pytest.MonkeyPatch) -> None:
    local_only(monkeypatch)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[WeightsServer]:
    root = tmp_path / "served"
    root.mkdir()
    with weights_server(root) as running:
        yield running


@pytest.fixture
def silent_server() -> Iterator[socket.socket]:
    """A port that accepts connections and never answers: a network that hangs."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield listener


# --- download_weights ------------------------------------------------------------------------


def test_download_weights_lands_in_the_hub_cache_with_progress(
    torch_home: Path, server: WeightsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    state, served = server.serve("resnet18", monkeypatch)
    size = served.stat().st_size
    calls: Progress = []
    assert not pretrained_available("resnet18")
    path = download_weights("resnet18", progress=lambda done, total: calls.append((done, total)))
    assert path == torch_home / served.name
    assert path.read_bytes() == served.read_bytes()
    assert sorted(os.listdir(torch_home)) == [served.name]  # no temporary file left over
    assert len(calls) >= 2
    done = [d for d, _ in calls]
    assert done == sorted(set(done))
    assert done[0] > 0
    assert done[-1] == size
    assert {t for _, t in calls} == {size}
    assert pretrained_available("resnet18")
    # Already there: no second download.
    calls.clear()
    assert download_weights("resnet18", progress=lambda d, t: calls.append((d, t))) == path
    assert calls == []
    for weights in ("pretrained", "auto"):
        model = load_model("resnet18", weights)
        assert model.weights == "pretrained"
        torch.testing.assert_close(model.module.state_dict(), state, rtol=0, atol=0)
    assert server.requests == [("GET", f"/{served.name}")]


def test_pretrained_downloads_when_missing(
    torch_home: Path, server: WeightsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    state, served = server.serve("resnet18", monkeypatch)
    calls: Progress = []
    model = load_model("resnet18", "pretrained", progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (served.stat().st_size, served.stat().st_size)
    assert (torch_home / served.name).is_file()
    torch.testing.assert_close(model.module.state_dict(), state, rtol=0, atol=0)


def test_download_with_a_checksum_mismatch_leaves_nothing(
    torch_home: Path, server: WeightsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    (server.root / "resnet18-deadbeef.pth").write_bytes(b"not the bytes whose sha256 is deadbeef")
    point_weights_at("resnet18", f"{server.url}/resnet18-deadbeef.pth", monkeypatch)
    with pytest.raises(ModelError, match=r"corrupt \(checksum mismatch\)"):
        download_weights("resnet18")
    assert list(torch_home.iterdir()) == []
    assert not pretrained_available("resnet18")


def test_pretrained_fails_with_a_hint_when_the_download_fails(
    torch_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_weights_at(
        "resnet18", f"http://127.0.0.1:{closed_port()}/resnet18-f37072fd.pth", monkeypatch
    )
    with pytest.raises(ModelError, match="`cnnviz download-weights resnet18`") as info:
        load_model("resnet18", "pretrained")
    assert "could not be downloaded (no network?)" in str(info.value)
    assert "resnet18-f37072fd.pth" in str(info.value)
    assert str(torch_home) in str(info.value)
    assert not any(torch_home.iterdir())
    # The failure is remembered: "auto" does not try that server again for a while.
    assert auto_plan("resnet18") == "offline"


def test_cnnviz_offline_means_no_request_at_all(
    torch_home: Path, server: WeightsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, served = server.serve("mobilenet_v3_small", monkeypatch)
    monkeypatch.setenv(network.OFFLINE_ENV, "1")
    assert auto_plan("mobilenet_v3_small") == "offline"
    model = load_model("mobilenet_v3_small", "auto")
    assert model.weights_source == f"{RANDOM} {NOT_HERE}"
    with pytest.raises(ModelError, match="CNNVIZ_OFFLINE says not to use the network") as info:
        download_weights("mobilenet_v3_small")
    assert "`cnnviz download-weights mobilenet_v3_small`" in str(info.value)
    assert server.requests == []
    assert not (torch_home / served.name).exists()


# --- "auto" ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "plan"),
    [
        ("mobilenet_v3_small", "download"),  # 10 MB
        ("mobilenet_v2", "download"),  # 14 MB
        ("efficientnet_b0", "download"),  # 20 MB
        ("densenet121", "download"),  # 31 MB
        ("resnet18", "download"),  # 45 MB
        ("googlenet", "download"),  # 50 MB
        ("resnet50", "ask"),  # 98 MB
        ("alexnet", "ask"),  # 233 MB
        ("vgg11", "ask"),  # 507 MB
        ("vgg16", "ask"),  # 528 MB
    ],
)
def test_auto_downloads_only_small_weights_by_itself(
    name: str, plan: str, torch_home: Path
) -> None:
    size = download_size_mb(name)
    assert size is not None  # torchvision's meta["_file_size"]: no table of our own
    assert (size <= AUTO_DOWNLOAD_MAX_MB) == (plan == "download")
    assert auto_plan(name) == plan


def test_auto_plan_of_our_nets_needs_no_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cnnviz.models import download

    assert auto_plan("lenet5") == "here"  # bundled
    assert download_size_mb("lenet5") is None
    monkeypatch.setattr(download, "ASSETS_DIR", tmp_path)
    assert auto_plan("lenet5") == "none"


def test_auto_downloads_small_weights_with_progress_then_loads_them(
    torch_home: Path, server: WeightsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    state, served = server.serve("mobilenet_v3_small", monkeypatch)
    size = served.stat().st_size
    calls: Progress = []
    model = load_model("mobilenet_v3_small", "auto", progress=lambda d, t: calls.append((d, t)))
    assert model.weights == "pretrained"
    assert model.weights_source == "Pretrained on ImageNet (IMAGENET1K_V1, torchvision)."
    torch.testing.assert_close(model.module.state_dict(), state, rtol=0, atol=0)
    assert len(calls) >= 2
    assert calls[-1] == (size, size)
    assert sorted(os.listdir(torch_home)) == [served.name]
    assert server.requests == [("HEAD", f"/{served.name}"), ("GET", f"/{served.name}")]
    # From now on it is here: no request at all.
    assert auto_plan("mobilenet_v3_small") == "here"
    assert load_model("mobilenet_v3_small", "auto").weights == "pretrained"
    assert len(server.requests) == 2


def test_auto_offline_falls_back_at_once_and_does_not_ask_again(
    torch_home: Path, silent_server: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(network, "PROBE_TIMEOUT_S", 0.2)
    port = silent_server.getsockname()[1]
    url = f"http://127.0.0.1:{port}/mobilenet_v3_small-047dcff4.pth"
    point_weights_at("mobilenet_v3_small", url, monkeypatch)
    assert auto_plan("mobilenet_v3_small") == "download"

    first = load_model("mobilenet_v3_small", "auto")
    assert first.weights == "random"
    assert first.weights_source == f"{RANDOM} {NOT_HERE}"
    assert connections(silent_server) == 1
    # Rerun after rerun: the verdict is remembered, the server is not asked again.
    assert auto_plan("mobilenet_v3_small") == "offline"
    assert load_model("mobilenet_v3_small", "auto").weights_source == first.weights_source
    assert connections(silent_server) == 0
    assert not torch_home.exists() or not any(torch_home.iterdir())

    # A few minutes later the network may be back: it is asked once more.
    later = network._now() + network.VERDICT_TTL_S + 1
    monkeypatch.setattr(network, "_now", lambda: later)
    assert auto_plan("mobilenet_v3_small") == "download"
    assert load_model("mobilenet_v3_small", "auto").weights == "random"
    assert connections(silent_server) == 1


def test_auto_with_no_route_falls_back_to_random(
    torch_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/resnet18-f37072fd.pth"
    point_weights_at("resnet18", url, monkeypatch)
    model = load_model("resnet18", "auto")
    assert model.weights == "random"
    assert not model.trained
    assert model.weights_source == f"{RANDOM} {NOT_HERE}"
    torch.testing.assert_close(
        model.module.state_dict(), load_model("resnet18", "random").module.state_dict()
    )
    assert not torch_home.exists() or not any(torch_home.iterdir())
    assert auto_plan("resnet18") == "offline"


def test_auto_does_not_download_large_weights(
    torch_home: Path, server: WeightsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_weights_at("alexnet", f"{server.url}/alexnet-7be5be79.pth", monkeypatch)
    assert auto_plan("alexnet") == "ask"
    model = load_model("alexnet", "auto")
    assert model.weights == "random"
    assert model.weights_source == (
        f"{RANDOM} Pretrained weights (233 MB) are not on this computer: choose 'pretrained' "
        "to download them."
    )
    assert server.requests == []  # not even asked whether it is there


def test_auto_with_a_corrupt_download_falls_back_and_leaves_nothing(
    torch_home: Path, server: WeightsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "mobilenet_v3_small-deadbeef.pth"
    (server.root / name).write_bytes(b"not the bytes whose sha256 starts with deadbeef")
    point_weights_at("mobilenet_v3_small", f"{server.url}/{name}", monkeypatch)
    model = load_model("mobilenet_v3_small", "auto")
    assert model.weights == "random"
    assert model.weights_source == f"{RANDOM} {NOT_HERE}"
    assert server.requests == [("HEAD", f"/{name}"), ("GET", f"/{name}")]
    assert list(torch_home.iterdir()) == []
    # Not fetched again at the next rerun: the failure is remembered like an offline verdict.
    assert auto_plan("mobilenet_v3_small") == "offline"
    load_model("mobilenet_v3_small", "auto")
    assert len(server.requests) == 2


def test_tests_here_cannot_reach_the_internet() -> None:
    assert not network.reachable("https://download.pytorch.org/models/resnet18-f37072fd.pth")
