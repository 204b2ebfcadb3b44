"""The shared-model store: a teacher's trained checkpoint, kept on the server for the class.

"Share with the class" puts a checkpoint here and gets a reference ``shared-<id>``; the link
``?model=<arch>&weights=shared-<id>`` then opens the same network for anyone, on every page, and
after a server restart too (the store is a folder, not memory).

* Where: ``$CNNVIZ_SHARED`` or ``~/.cache/cnnviz/shared`` (``$XDG_CACHE_HOME`` honoured).
* Bounded: at most :data:`MAX_MODELS` files and :data:`MAX_MEGABYTES` in all; sharing one more
  removes the oldest first.
* Ids are unguessable: 96 random bits from :mod:`secrets` (a student cannot open the models of
  other classes by counting), and only ids of that exact form ever reach the file system.
* Stored files are read like any checkpoint: ``torch.load(..., weights_only=True)``, checked
  before they are stored and again when they are loaded.
* Shared by every replica of a school (:mod:`cnnviz.school`): each gets the same
  ``CNNVIZ_SHARED``, a folder on a shared volume (a ReadWriteMany claim on Kubernetes). Files are
  written under a temporary name and renamed, and a reference never changes its file, so the
  replicas' own model caches (keyed by the reference) always agree with the store; a model the
  store removed is refused on every replica, cached or not (``cnnviz.ui.current_model``).
* Another backend (an object store, a database) is a class with :class:`SharedModels`'s three
  methods, returned by :func:`default_store`: the app reaches the store only through it.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cnnviz.errors import ModelError
from cnnviz.models.checkpoints import module_from_state, read_checkpoint
from cnnviz.models.model import Model
from cnnviz.models.registry import MODELS, spec_of

log = logging.getLogger(__name__)

STORE_ENV = "CNNVIZ_SHARED"
PREFIX = "shared-"
"""A shared model's weights reference is ``shared-<id>`` (the ``weights`` query parameter)."""
MAX_MODELS = 20
MAX_MEGABYTES = 500.0
_ID = re.compile(r"[A-Za-z0-9_-]{16}")


def is_shared(weights: object) -> bool:
    """Whether ``weights`` names a shared model (``"shared-<id>"``)."""
    return isinstance(weights, str) and weights.startswith(PREFIX)


def default_root() -> Path:
    """``$CNNVIZ_SHARED``, else ``shared`` in the user's cache folder."""
    if os.environ.get(STORE_ENV):
        return Path(os.environ[STORE_ENV]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(cache).expanduser() / "cnnviz" / "shared"


@dataclass(frozen=True, slots=True)
class SharedModel:
    """One stored checkpoint.

    Attributes:
        ref: The weights reference, ``"shared-<id>"``.
        arch: The registry name of its architecture (from the checkpoint's metadata).
        path: The file.
    """

    ref: str
    arch: str
    path: Path


@dataclass(frozen=True, slots=True)
class ModelStore:
    """A folder of shared checkpoints, bounded in count and size (oldest removed first).

    Attributes:
        root: The folder (made when the first model is shared).
        max_models: Most files kept.
        max_megabytes: Most bytes kept, in MiB, all files together.
    """

    root: Path
    max_models: int = MAX_MODELS
    max_megabytes: float = MAX_MEGABYTES

    @classmethod
    def default(cls) -> ModelStore:
        """The store at :func:`default_root`."""
        return cls(default_root())

    def share(self, checkpoint: bytes) -> SharedModel:
        """Store a checkpoint (a cnnviz training checkpoint: a state dict and its metadata).

        Args:
            checkpoint: The bytes of the file (``cnnviz.save_checkpoint``'s format).

        Returns:
            The stored model, with its new unguessable reference.

        Raises:
            ModelError: The file is unsafe or not a cnnviz checkpoint, too large for the
                store, or the folder cannot be written.
        """
        if len(checkpoint) > self.max_megabytes * 2**20:
            raise ModelError(
                f"This model ({len(checkpoint) / 2**20:.0f} MB) is larger than the shared-model "
                f"store holds ({self.max_megabytes:.0f} MB); share a smaller network."
            )
        state, meta = read_checkpoint(checkpoint)  # weights_only=True: refused if unsafe
        arch = _arch(meta)
        module_from_state(spec_of(arch), state, meta)  # it loads: a class never gets a dud
        ident = secrets.token_urlsafe(12)  # 96 bits, 16 characters of [A-Za-z0-9_-]
        target = self.root / f"{ident}.pt"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root, suffix=".part", delete=False) as tmp:
                tmp.write(checkpoint)
            os.replace(tmp.name, target)  # readers never see half a file
        except OSError as error:
            log.warning("cannot write to the shared-model store %s: %r", self.root, error)
            raise ModelError(
                f"The server cannot store shared models in {self.root} ({error.strerror}); set "
                f"{STORE_ENV} to a writable folder."
            ) from error
        self._prune(keep=target)
        return SharedModel(PREFIX + ident, arch, target)

    def path(self, ref: str) -> Path:
        """The file of a reference (no file is read).

        Raises:
            ModelError: The reference is malformed, unknown, or its model was removed.
        """
        ident = ref.removeprefix(PREFIX)
        path = self.root / f"{ident}.pt"
        if not (ref.startswith(PREFIX) and _ID.fullmatch(ident) and path.is_file()):
            raise ModelError(
                f"There is no shared model '{ref}' on this server: the link may be mistyped, or "
                "the model was removed to make room for newer ones. Ask for a new link."
            )
        return path

    def load(self, ref: str) -> Model:
        """The network of a shared reference, its weights read with ``weights_only=True``.

        Raises:
            ModelError: Unknown or removed reference, or a damaged file.
        """
        state, meta = read_checkpoint(self.path(ref))
        spec = spec_of(_arch(meta))
        module, labels = module_from_state(spec, state, meta)
        dataset = meta.get("config", {}).get("dataset")
        trained_on = f", trained on {dataset}" if isinstance(dataset, str) else ""
        return Model(
            module, spec, labels, "shared",
            f"Shared with the class ({ref}{trained_on}).", f"{spec.name}:{ref}",
        )  # fmt: skip

    def entries(self) -> list[Path]:
        """The stored files, oldest first."""
        if not self.root.is_dir():
            return []
        files = [p for p in self.root.glob("*.pt") if _ID.fullmatch(p.stem)]
        return sorted(files, key=lambda p: p.stat().st_mtime_ns)

    def _prune(self, keep: Path) -> None:
        """Remove the oldest files (never ``keep``) until the count and size bounds hold."""
        files = [p for p in self.entries() if p != keep]
        limit = self.max_megabytes * 2**20
        total = keep.stat().st_size + sum(p.stat().st_size for p in files)
        while files and (len(files) + 1 > self.max_models or total > limit):
            oldest = files.pop(0)
            total -= oldest.stat().st_size
            oldest.unlink(missing_ok=True)
            log.info("shared-model store: removed the oldest, %s", oldest.name)


class SharedModels(Protocol):
    """What the app asks of a shared-model store (:class:`ModelStore`, a folder, is the one
    backend; see the module's notes)."""

    def share(self, checkpoint: bytes) -> SharedModel:
        """Store a cnnviz checkpoint; its new unguessable ``shared-<id>`` reference.

        Raises:
            ModelError: Unsafe, not a cnnviz checkpoint, too large, or not storable now.
        """
        ...

    def path(self, ref: str) -> Path:
        """The local file of a reference (a remote backend fetches it into a local cache).

        Raises:
            ModelError: Malformed, unknown or removed reference.
        """
        ...

    def load(self, ref: str) -> Model:
        """The network of a reference, read with ``weights_only=True``.

        Raises:
            ModelError: Unknown or removed reference, or a damaged file.
        """
        ...


def default_store() -> SharedModels:
    """The store this server (every replica of a school) shares models through: the folder
    ``$CNNVIZ_SHARED`` (:meth:`ModelStore.default`)."""
    return ModelStore.default()


def _arch(meta: dict) -> str:
    """The architecture a checkpoint's metadata names."""
    arch = meta.get("arch")
    if arch not in MODELS:
        raise ModelError(
            "This checkpoint does not say which architecture it is (a cnnviz training "
            "checkpoint does): share a model trained on the Training page."
        )
    return arch


def load_shared(name: str, ref: str) -> Model:
    """``load_model(name, "shared-<id>")``: the shared model, if it is a ``name``.

    Raises:
        ModelError: Unknown reference, or a model of another architecture.
    """
    model = default_store().load(ref)
    if model.name != name:
        raise ModelError(
            f"The shared model '{ref}' is a {model.spec.label}: choose {model.spec.label} as "
            "the model in the sidebar (the shared link does this)."
        )
    return model
