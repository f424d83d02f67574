"""Which corpus a dataset of eval cases is asked of.

A dataset folder may hold `dataset.toml` naming a command that builds its corpus and prints
the corpus folder as its last line (`corpus_command = ["{python}", "evals/…/fetch.py"]`,
run from the repository root). Its index is kept under the data folder, one per dataset,
so a second run only ingests what changed. Without the file, the cases are asked of the
configured corpus. `also_asks` names case folders whose corpus this one contains.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from assistant.errors import StackGuideError
from assistant.settings import REPO_ROOT, Settings


class DatasetError(StackGuideError):
    """A dataset's corpus could not be built: the message says which and why."""


@dataclass
class Dataset:
    cases: Path
    corpus_command: list[str] | None = None
    # Other case sets whose answers hold on this corpus too (it contains their corpus):
    # calibration asks them here as well, with this corpus' documents as distractors.
    also_asks: list[Path] = field(default_factory=list)

    @classmethod
    def at(cls, path: Path) -> Dataset:
        folder = path if path.is_dir() else path.parent
        manifest = folder / "dataset.toml"
        if not manifest.exists():
            return cls(path)
        try:
            data = tomllib.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise DatasetError(f"{manifest}: cannot read: {exc}") from exc
        command = data.get("corpus_command")
        if command is not None and not (
            isinstance(command, list) and command and all(isinstance(c, str) for c in command)
        ):
            raise DatasetError(f"{manifest}: `corpus_command` must be a list of strings")
        also = data.get("also_asks") or []
        if not (isinstance(also, list) and all(isinstance(a, str) for a in also)):
            raise DatasetError(f"{manifest}: `also_asks` must be a list of case folders")
        return cls(path, command, [REPO_ROOT / a for a in also])

    def settings(self, base: Settings) -> Settings:
        """`base` pointed at this dataset's corpus and its own index folder."""
        if self.corpus_command is None:
            return base
        corpus = self._build()
        key = hashlib.sha256(str(corpus).encode()).hexdigest()[:12]
        data_dir = base.data_dir / "datasets" / f"{corpus.name}-{key}"
        return base.model_copy(update={"corpus_dir": corpus, "data_dir": data_dir})

    def _build(self) -> Path:
        argv = [sys.executable if c == "{python}" else c for c in self.corpus_command or []]
        try:
            done = subprocess.run(
                argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=900, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DatasetError(f"{self.cases}: building its corpus failed: {exc}") from exc
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            why = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise DatasetError(f"{self.cases}: building its corpus failed: {why}")
        corpus = Path(lines[-1]).expanduser()
        if not corpus.is_dir():
            raise DatasetError(f"{self.cases}: its corpus command printed {corpus}, not a folder")
        return corpus
