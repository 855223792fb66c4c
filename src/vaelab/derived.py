"""Files made from a run's weights: the evaluation, the GMM sampler, the report.

Each records the SHA-256 of the weights it was made from (``model.weights_id``), so a stale one is
told from a fresh one: it is fitted again (the GMM) or flagged (the report, ``vaelab info``), never
shown as current. Each lives in the run directory or, where that cannot be written (a shared,
mounted or archived run), in the cache: ``$VAELAB_CACHE/runs/NAME-HASH/``. Readers look in both.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vaelab._version import __version__
from vaelab.data.builtin import cache_dir
from vaelab.files import atomic_path, damaged, read_arrays, read_metadata, write_arrays

#: what the metadata of RUN/gmm.safetensors calls its contents
GMM_FORMAT = "vaelab.GMMSampler"
#: how report.html names its weights, in its <head>
REPORT_STAMP = re.compile(rb'<meta name="vaelab-weights" content="([0-9a-f]*)">')


class DerivedFiles:
    """The derived files of a run: a part of :class:`vaelab.run.RunDir`, which gives it ``path``
    (the run directory) and ``weights_id()`` (the SHA-256 of the committed weights)."""

    EVALUATION = "evaluation.json"
    GMM = "gmm.safetensors"
    REPORT = "report.html"
    path: Path  # given by RunDir, as is:
    weights_id: Callable[[], str | None]

    def cache(self) -> Path:
        """Where this run's derived files go when the run directory cannot be written:
        ``$VAELAB_CACHE/runs/<name>-<hash of its absolute path>``."""
        key = hashlib.sha256(str(self.path.resolve()).encode()).hexdigest()[:16]
        return cache_dir() / "runs" / f"{self.path.resolve().name}-{key}"

    def writable(self) -> bool:
        """Whether files can be created in the run directory (by trying: a read-only mount, a
        folder without write permission and a missing folder all say no)."""
        try:
            with tempfile.TemporaryFile(dir=self.path):
                return True
        except OSError:
            return False

    def derived_path(self, name: str) -> Path:
        """Where to write the derived file ``name``: in the run if it can be written, else in
        :meth:`cache`."""
        return self.path / name if self.writable() else self.cache() / name

    def stamp(self, path: Path) -> str | None:
        """The weights (SHA-256) that the derived file at ``path`` names; None when it names none
        or cannot be read."""
        try:
            if path.name == self.GMM:
                return read_metadata(path).get("weights") or None
            if path.name == self.REPORT:
                with open(path, "rb") as f:
                    found = REPORT_STAMP.search(f.read(4096))
                return found.group(1).decode() if found and found.group(1) else None
            return json.loads(path.read_text(encoding="utf-8")).get("weights")
        except (OSError, ValueError, AttributeError):
            return None

    def derived(self) -> dict[str, tuple[Path, bool]]:
        """Each derived file there is: ``{name: (path, made from the run's weights)}``; a fresh copy
        wins over a stale one."""
        weights, found = self.weights_id(), {}
        for name in (self.EVALUATION, self.GMM, self.REPORT):
            fresh = self.find(name, weights) if weights is not None else None
            copies = [p for p in (self.path / name, self.cache() / name) if p.exists()]
            if fresh is not None or copies:
                found[name] = (fresh, True) if fresh is not None else (copies[0], False)
        return found

    def _fresh(self, name: str, weights: str | None) -> list[Path]:
        """Copies of ``name`` (in the run, then in the cache) made from ``weights`` (default: the
        run's), then the stale ones."""
        weights = self.weights_id() if weights is None else weights
        paths = [p for p in (self.path / name, self.cache() / name) if p.exists()]
        return sorted(paths, key=lambda p: self.stamp(p) != weights)

    def find(self, name: str, weights: str | None = None) -> Path | None:
        """The copy of the derived file ``name`` made from ``weights`` (default: the run's), in the
        run or in the cache; None when there is none."""
        weights = self.weights_id() if weights is None else weights
        return next((p for p in self._fresh(name, weights) if self.stamp(p) == weights), None)

    def write_evaluation(self, record: dict[str, Any]) -> Path:
        """Write RUN/evaluation.json (or its cached copy for a read-only run); ``record["weights"]``
        is the SHA-256 of the weights it scored (``model.weights_id``)."""
        if "weights" not in record:
            raise ValueError("an evaluation record names the weights it scored: record['weights']")
        path = self.derived_path(self.EVALUATION)
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        return path

    def read_evaluation(self, weights: str | None = None) -> dict[str, Any] | None:
        """The last evaluation of the weights ``weights`` (default: the run's), or None when there is
        none; a record made from other weights comes with ``"stale": True``."""
        weights = self.weights_id() if weights is None else weights
        for path in self._fresh(self.EVALUATION, weights):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                raise damaged(path, err) from None
            return record if record.get("weights") == weights else {**record, "stale": True}
        return None

    def save_gmm(self, arrays: dict[str, np.ndarray], weights: str | None) -> Path:
        """Write the arrays of a GMM sampler fitted to the codes of ``weights`` (RUN/gmm.safetensors,
        or its cached copy for a read-only run)."""
        return write_arrays(self.derived_path(self.GMM), arrays, GMM_FORMAT, __version__,
                            extra={"weights": weights or ""})

    def load_gmm(self, weights: str | None = None) -> dict[str, np.ndarray] | None:
        """The arrays of the GMM fitted to the codes of ``weights`` (default: the run's), else None:
        one fitted for other weights (the run was trained again since) is stale. A damaged file
        with the right stamp is a ``ValueError`` naming it."""
        path = self.find(self.GMM, weights)
        return None if path is None else read_arrays(path, GMM_FORMAT)
