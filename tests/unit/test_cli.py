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
    assert meta["variant"] == {"activation": "elu", "batch_norm": True, "dropout": 0.1}
    assert list(meta["config"]["augment"]) == ["rotate", "crop"]


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
