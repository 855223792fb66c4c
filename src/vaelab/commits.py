"""Files that change together: a group of files in one folder replaced as one unit, by a manifest.

A commit writes the new version of each changed file under a pending name (``.NAME.G.next``, G the
commit's generation), flushes it to disk, and then renames a new manifest (the file names with
their SHA-256 and size) into place. That rename is the commit point: before it the folder holds the
previous commit, after it the new one. Then the pending files are renamed over the old ones; a
writer killed in between leaves a manifest that points at pending files, which readers read and the
next writer renames (:meth:`Commits.roll_forward`). Pending files of a commit that never reached
its commit point are leftovers, to be removed. Readers check every file against the manifest and
read the manifest again when a writer committed meanwhile; they never see two commits mixed.

The caller makes sure there is one writer at a time (:meth:`vaelab.run.RunDir.writing`). This is
the write-ahead idea of databases (SQLite's journal) cut down to whole files. Plain Python.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from vaelab._version import __version__
from vaelab.files import atomic_path, damaged, fsync_dir, write_durable

FORMAT = "vaelab.run/1"
#: how many times a reader looks again when a writer commits while it reads (10 ms apart)
_READ_TRIES = 50


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Commits:
    """The files ``names`` of ``folder``, committed together through ``folder/manifest``.

    >>> commits = Commits(Path("runs/x"), ("a.json", "b.bin"))     # doctest: +SKIP
    >>> commits.commit({"a.json": b"{}", "b.bin": b"..."})
    >>> commits.read_bytes("a.json")
    b'{}'
    """

    def __init__(self, folder: Path, names: tuple[str, ...], manifest: str = "manifest.json") -> None:
        self.folder, self.names, self.path = Path(folder), tuple(names), Path(folder) / manifest

    def pending(self, name: str, generation: int) -> Path:
        """Where commit ``generation`` writes the new ``name`` before its commit point."""
        return self.folder / f".{name}.{generation}.next"

    def manifest(self) -> dict[str, Any] | None:
        """The last commit's manifest, or None where nothing was ever committed (a folder written
        before manifests existed reads file by file)."""
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise damaged(self.path, err) from None
        if not (isinstance(raw, dict) and raw.get("format") == FORMAT
                and isinstance(raw.get("generation"), int) and isinstance(raw.get("files"), dict)
                and isinstance(raw.get("pending", []), list)):
            raise ValueError(f"{self.path} is not a vaelab manifest ({FORMAT})")
        return raw

    def generation(self) -> int:
        """How many commits there have been (0 for none)."""
        manifest = self.manifest()
        return 0 if manifest is None else manifest["generation"]

    def entry(self, name: str) -> dict[str, Any] | None:
        """``{"sha256": ..., "bytes": ...}`` of the committed ``name``; None where it is not committed
        or there is no manifest."""
        manifest = self.manifest()
        return None if manifest is None else manifest["files"].get(name)

    def unfinished(self) -> bool:
        """Whether the last commit's pending files still wait to be renamed (its writer was killed
        between the commit point and the renames)."""
        manifest = self.manifest()
        return manifest is not None and any(self.pending(n, manifest["generation"]).exists()
                                            for n in manifest.get("pending", []))

    def leftovers(self) -> list[Path]:
        """Pending files of commits that never reached their commit point."""
        manifest = self.manifest()
        live = set() if manifest is None else {self.pending(n, manifest["generation"]).name
                                               for n in manifest.get("pending", [])}
        return sorted(p for p in self.folder.glob(".*.next")
                      if any(p.name.startswith(f".{n}.") for n in self.names) and p.name not in live)

    def commit(self, files: dict[str, bytes], *, fresh: bool = False, **facts: Any) -> None:
        """Replace ``files`` (name -> new contents) as one unit; the other committed files stay
        unless ``fresh``, which makes the commit name only ``files``. ``facts`` (JSON values, e.g.
        ``epoch=3``) go into the manifest. The caller holds the folder's writer lock."""
        unknown = sorted(set(files) - set(self.names))
        if unknown:
            raise ValueError(f"{unknown} are not files committed here; allowed: {', '.join(self.names)}")
        old = self.manifest()
        generation = (old["generation"] if old else 0) + 1
        entries = {} if fresh or old is None else dict(old["files"])
        if old is None and not fresh:  # a folder written before manifests: name what it has
            entries.update({n: _entry((self.folder / n).read_bytes()) for n in self.names
                            if n not in files and (self.folder / n).exists()})
        for name, data in files.items():
            write_durable(self.pending(name, generation), data)
            entries[name] = _entry(data)
        manifest = {"format": FORMAT, "generation": generation, "vaelab_version": __version__,
                    "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **facts,
                    "files": {n: entries[n] for n in self.names if n in entries}, "pending": sorted(files)}
        with atomic_path(self.path) as tmp:  # the commit point
            tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        self.roll_forward()

    def roll_forward(self) -> None:
        """Rename the last commit's pending files over the old ones: the tail of a commit, which a
        killed writer may have left undone. The caller holds the writer lock."""
        manifest = self.manifest()
        if manifest is None:
            return
        moved = False
        for name in manifest.get("pending", []):
            pending = self.pending(name, manifest["generation"])
            if pending.exists():
                os.replace(pending, self.folder / name)
                moved = True
        if moved:
            fsync_dir(self.folder)

    def read_bytes(self, name: str) -> bytes:
        """The committed contents of ``name``, checked against the manifest's SHA-256; a file the
        manifest does not name (any file, where there is no manifest) is read as it is."""
        for _ in range(_READ_TRIES):
            manifest = self.manifest()
            entry = None if manifest is None else manifest["files"].get(name)
            path = self.folder / name
            if entry is not None and name in manifest.get("pending", []):
                pending = self.pending(name, manifest["generation"])
                path = pending if pending.exists() else path
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                if entry is None:
                    raise FileNotFoundError(f"{self.folder / name} is missing") from None
                data = None  # a writer renamed it while we looked
            if data is not None and (entry is None or sha256(data) == entry["sha256"]):
                return data
            time.sleep(0.01)  # a writer may be committing: read the manifest again
        if data is None:
            raise FileNotFoundError(f"{self.folder / name} is missing, though {self.path} names it: it was "
                                    "deleted outside vaelab; put it back, or write it again (for a run: "
                                    "train it again with --overwrite)")
        raise ValueError(f"{self.folder / name} is damaged, truncated or replaced: it is not the file "
                         f"that was committed (its SHA-256 differs from the one in {self.path}); put the "
                         "original back, or write it again (for a run: train it again with --overwrite)")


def _entry(data: bytes) -> dict[str, Any]:
    return {"sha256": sha256(data), "bytes": len(data)}
