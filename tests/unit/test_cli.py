"""The cnnviz command line."""

import dataclasses

import pytest
import torch

import cnnviz
from cnnviz import cli


def test_models_lists_every_architecture(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["models"]) == 0
    out = capsys.readouterr().out
    for name in cnnviz.model_names():
        assert name in out


def test_probe_prints_layers_and_predictions(
    tmp_path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    image = tmp_path / "digit.png"
    cnnviz.load_sample("digit_3").save(image)
    assert cli.main(["probe", str(image), "--model", "lenet5", "--weights", "random"]) == 0
    out = capsys.readouterr().out
    assert "features.c1" in out
    assert "6 x 28 x 28" in out
    assert out.count("%") == 5


def test_download_failure_is_a_sentence_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def offline(name: str, progress=None):
        raise cnnviz.ModelError(f"no network for {name}")

    monkeypatch.setattr(cnnviz, "download_weights", offline)
    assert cli.main(["download-weights", "resnet18"]) == 1
    assert "cnnviz: no network for resnet18" in capsys.readouterr().err


def test_probe_of_a_missing_file_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["probe", "/nonexistent/cat.png"]) == 1
    assert "cnnviz:" in capsys.readouterr().err


def test_train_writes_a_checkpoint_the_registry_loads(
    tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "lenet5.pt"
    assert cli.main(["train", "--epochs", "1", "--lr", "0.003", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "epoch 1: train loss" in printed
    assert f"saved {out}" in printed
    model = cnnviz.load_model("lenet5", out)
    assert model.weights == "checkpoint"
    assert model.labels == tuple(str(d) for d in range(10))


def test_train_with_a_variant_and_augmentation_saves_a_loadable_checkpoint(tmp_path) -> None:
    out = tmp_path / "variant.pt"
    argv = ["train", "--epochs", "1", "--activation", "elu", "--batch-norm", "--dropout", "0.1",
            "--augment", "rotate", "crop", "--out", str(out)]  # fmt: skip
    assert cli.main(argv) == 0
    model = cnnviz.load_model("lenet5", out)
    assert type(model.module.features.act1).__name__ == "ELU"
    meta = torch.load(out, weights_only=True)["meta"]
    assert meta["variant"] == {
        "activation": "elu", "batch_norm": True, "dropout": 0.1, "residual": None,
    }  # fmt: skip
    assert list(meta["config"]["augment"]) == ["rotate", "crop"]


def test_train_a_residual_deepnet_on_a_subset(tmp_path, capsys) -> None:
    out = tmp_path / "deep.pt"
    argv = ["train", "--arch", "deepnet", "--residual", "--train-subset", "64", "--epochs", "1",
            "--out", str(out)]  # fmt: skip
    assert cli.main(argv) == 0
    meta = torch.load(out, weights_only=True)["meta"]
    assert meta["variant"]["residual"] is True
    assert meta["config"]["train_subset"] == 64
    assert meta["history"][0]["grad_norms"]["features.stem.conv"] > 0  # kept per epoch
    assert any("shortcut" in n for n in cnnviz.load_model("deepnet", out).module.state_dict())
    assert cli.main(["train", "--residual", "--epochs", "1"]) == 1  # lenet5 has no such switch
    assert "only on the deep plain net" in capsys.readouterr().err


def test_train_on_a_folder_of_class_subfolders(tmp_path) -> None:
    from PIL import Image

    for k, name in enumerate(("dark", "light")):
        (tmp_path / "pics" / name).mkdir(parents=True)
        for i in range(6):
            Image.new("L", (12, 12), 40 + 170 * k + i).save(tmp_path / "pics" / name / f"{i}.png")
    out = tmp_path / "mine.pt"
    argv = ["train", "--folder", str(tmp_path / "pics"), "--epochs", "2", "--out", str(out)]
    assert cli.main(argv) == 0
    assert cnnviz.load_model("lenet5", out).labels == ("dark", "light")
    assert torch.load(out, weights_only=True)["meta"]["config"]["dataset"] == "folder"


def test_train_that_blows_up_exits_1_and_saves_nothing(
    tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.pt"
    argv = ["train", "--epochs", "1", "--lr", "1000", "--optimizer", "sgd", "--out", str(out)]
    assert cli.main(argv) == 1
    printed = capsys.readouterr()
    assert "Trained" not in printed.out
    assert f"nothing saved to {out}: no epoch finished before the blow-up" in printed.err
    assert "\ncnnviz: At epoch 1, step 10 the loss blew up to " in printed.err
    assert "learning rate 1000 is too high, so try 100 (10x smaller)" in printed.err
    assert not out.exists()


def test_train_that_blows_up_later_saves_its_best_epoch(
    tmp_path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_train = cli.train

    def blows_up_after_the_first_epoch(config, data=None):
        for event in real_train(config, data=data):
            if isinstance(event, cnnviz.DoneEvent):
                event = dataclasses.replace(event, status="diverged", message="It blew up.")
            yield event

    monkeypatch.setattr(cli, "train", blows_up_after_the_first_epoch)
    out = tmp_path / "best.pt"
    assert cli.main(["train", "--epochs", "1", "--out", str(out)]) == 1
    printed = capsys.readouterr()
    assert f"saved {out} (epoch 1, before the blow-up)" in printed.out
    assert printed.err.endswith("cnnviz: It blew up.\n")
    assert len(torch.load(out, weights_only=True)["meta"]["history"]) == 1


def test_train_with_a_logdir_writes_tensorboard_logs(
    tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    logdir = tmp_path / "runs" / "lenet5"
    assert cli.main(["train", "--epochs", "1", "--logdir", str(logdir)]) == 0
    assert f"TensorBoard logs in {logdir}" in capsys.readouterr().out
    (events,) = logdir.glob("events.out.tfevents.*")
    assert events.stat().st_size > 0


# --- your own model ---------------------------------------------------------------------------


@pytest.fixture
def zoo(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """An installed package of the operator's with a factory that works and one that fails."""
    (tmp_path / "cli_zoo_for_cnnviz.py").write_text(
        "import torch\nfrom torch import nn\n\n"
        "def small():\n"
        "    torch.manual_seed(2)\n"
        "    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1),\n"
        "                         nn.Flatten(), nn.Linear(4, 2))\n\n"
        "def broken():\n"
        "    raise ImportError('needs a GPU')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_run_with_a_model_hands_it_to_the_server(
    zoo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: dict = {}

    def fake_call(command, env=None):
        seen.update(command=command, env=env)
        return 0

    monkeypatch.setattr(cli.subprocess, "call", fake_call)
    (zoo / "labels.txt").write_text("yes\nno\n")
    argv = ["run", "--model", "cli_zoo_for_cnnviz:small", "--labels", str(zoo / "labels.txt")]
    assert cli.main([*argv, "--server.port", "8799"]) == 0
    assert seen["command"][-2:] == ["--server.port", "8799"]
    monkeypatch.setenv(cnnviz.models.own.MODELS_ENV, seen["env"][cnnviz.models.own.MODELS_ENV])
    (entry,) = cnnviz.models.own.operator_models()
    assert entry.target == "cli_zoo_for_cnnviz:small"
    assert entry.labels == str(zoo / "labels.txt")
    assert entry.build().labels == ("yes", "no")
    assert "2 classes, in every session's sidebar" in capsys.readouterr().out


def test_run_with_a_factory_that_fails_stops_at_start_up(
    zoo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli.subprocess, "call", lambda *a, **k: pytest.fail("server started"))
    assert cli.main(["run", "--model", "cli_zoo_for_cnnviz:broken"]) == 1
    err = capsys.readouterr().err
    assert "cnnviz: The factory cli_zoo_for_cnnviz:broken failed to build a model" in err
    assert "Traceback" not in err


def test_probe_an_onnx_file_and_a_safetensors_checkpoint(
    tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    import safetensors.torch
    import torchvision
    from test_onnx import small_cnn, to_onnx

    image = tmp_path / "cat.png"
    cnnviz.load_sample("chelsea").save(image)
    (tmp_path / "small.onnx").write_bytes(to_onnx(small_cnn(), side=32))
    (tmp_path / "labels.txt").write_text("cat\ndog\nbird\n")
    labels = ["--labels", str(tmp_path / "labels.txt")]
    assert cli.main(["probe", str(image), "--model", str(tmp_path / "small.onnx"), *labels]) == 0
    out = capsys.readouterr().out
    assert "Weights from the ONNX file small.onnx." in out
    assert out.count("%") == 3
    net = torchvision.models.resnet18(num_classes=3)
    safetensors.torch.save_file(dict(net.state_dict()), tmp_path / "ft.safetensors")
    weights = ["--weights", str(tmp_path / "ft.safetensors")]
    assert cli.main(["probe", str(image), "--model", "resnet18", *weights, *labels]) == 0
    out = capsys.readouterr().out
    assert "layer4" in out
    assert {"cat", "dog", "bird"} <= set(out.split())


def test_run_with_a_timm_model_fetches_its_weights_or_says_why_not(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cnnviz.models import timm_models

    pytest.importorskip("timm")
    asked: list[str] = []
    real = timm_models.load_timm

    def load(name: str, weights: str = "auto"):
        asked.append(weights)
        if weights == "pretrained":
            raise cnnviz.ModelError("The pretrained weights of timm:resnet10t could not be had.")
        return real(name, weights)

    monkeypatch.setattr(timm_models, "load_timm", load)
    monkeypatch.setattr(cli.subprocess, "call", lambda command, env=None: 0)
    monkeypatch.delenv("CNNVIZ_OFFLINE", raising=False)
    assert cli.main(["run", "--model", "timm:resnet10t"]) == 0
    out = capsys.readouterr().out
    assert "could not be had. Starting with random weights." in out
    assert "timm:resnet10t: timm resnet10t, input 3 x 176 x 176, 1000 classes" in out
    assert asked == ["pretrained", "auto"]
    monkeypatch.setenv("CNNVIZ_OFFLINE", "1")
    assert cli.main(["run", "--model", "timm:resnet10t"]) == 0
    assert asked == ["pretrained", "auto", "auto"]  # offline: nothing fetched
