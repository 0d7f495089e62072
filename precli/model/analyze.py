"""Model-wide reports: every tensor of a checkpoint under every recipe, and a summary.

Pure, never prints. :func:`analyze` opens a checkpoint (:mod:`precli.sources`), walks each
selected tensor once through :func:`precli.model.stats.compare_tensor` (memory-mapped, in
tiles), optionally in ``jobs`` worker processes, and merges the per-tensor totals exactly
into one summary record per recipe. A tensor is always computed whole by one process, and
the summary merges exact partial sums, so results do not depend on ``jobs``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from precli.array.recipes import Recipe
from precli.array.views import View
from precli.model.pool import check_jobs, run_tensors, select_tensors
from precli.model.stats import (
    RECORD_KEYS,
    CompareStats,
    RaggedRows,
    TensorStats,
    Values,
    compare_tensor,
    json_number,
    merge_tallies,
    summary_stats,
)
from precli.model.viewing import ViewRule, tensor_view
from precli.sources import Checkpoint, CheckpointError, Tensor, open_checkpoint

__all__ = ["CHECKPOINT_KEYS", "SET_ASIDE", "SMALL", "ModelReport", "TensorResult", "analyze",
           "set_aside"]

#: tensors with fewer values than this are set aside by default (with every 1-D tensor):
#: norms, biases and scalars, which deployments keep in their stored precision and whose
#: figures would otherwise decide the model's summary
SMALL = 1024
#: the start of a set-aside tensor's ``skip`` reason
SET_ASIDE = "set aside"


def set_aside(t: Tensor) -> str | None:
    """Why a tensor is set aside by default (1-D, or under :data:`SMALL` values), or None."""
    if len(t.shape) <= 1:
        return f"{SET_ASIDE}: 1-D"
    if t.numel < SMALL:
        return f"{SET_ASIDE}: {t.numel:,} values (under {SMALL:,})"
    return None

#: The keys of a checkpoint record (per tensor and recipe, and the summary records), in order.
CHECKPOINT_KEYS: tuple[str, ...] = (
    "tensor", "dtype", "shape", "params", "amax", "dynamic_range",
    "skip", *RECORD_KEYS, "bytes", "stored_bytes", "view", "view_from",
    "weighted_sqnr_db", "worst_tensor", "worst_sqnr_db",
)
#: keys only the summary records fill in
_SUMMARY_ONLY = {"weighted_sqnr_db": None, "worst_tensor": None, "worst_sqnr_db": None}


@dataclass
class TensorResult:
    """One tensor: what it is, and its statistics under each recipe (none when skipped).

    ``dynamic_range`` is log2(amax / smallest nonzero magnitude), in binades."""

    name: str
    dtype: str
    format: str | None
    shape: tuple[int, ...]
    params: int
    nbytes: int
    amax: float | None
    dynamic_range: float | None
    skip: str | None
    stats: list[CompareStats]
    _raw: TensorStats | None = field(default=None, repr=False)
    view: View | None = None  # the matrix it was compared in (None when skipped)

    def records(self) -> list[dict[str, Any]]:
        vw = self.view
        head = {"tensor": self.name, "dtype": self.dtype, "shape": list(self.shape),
                "params": self.params, "amax": json_number(self.amax),
                "dynamic_range": json_number(self.dynamic_range), "skip": self.skip}
        if self.skip is not None:
            return [{**head, **dict.fromkeys(RECORD_KEYS), "bytes": None,
                     "stored_bytes": self.nbytes, "view": None, "view_from": None,
                     **_SUMMARY_ONLY}]
        out = []
        for s in self.stats:
            rec = {**head, **s.to_record()}
            bpv = s.bits_per_value
            rec["bytes"] = None if bpv is None else math.ceil(bpv * self.params / 8)
            rec["stored_bytes"] = self.nbytes
            rec["view"] = vw.describe(self.shape) if vw is not None else None
            rec["view_from"] = vw.source if vw is not None else None
            rec.update(_SUMMARY_ONLY)
            out.append(rec)
        return out


@dataclass
class ModelReport:
    """Every selected tensor (in file order), the per-recipe summary, and the problems
    found (damaged shards or tensors: the healthy ones are still reported)."""

    path: str
    kind: str
    stored_bytes: int
    recipes: list[Recipe]
    tensors: list[TensorResult]
    summary: list[CompareStats]
    summary_bytes: list[int]
    errors: list[str]
    #: the checkpoint's metadata (:attr:`precli.sources.Checkpoint.metadata`)
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def architecture(self) -> str | None:
        """A GGUF's ``general.architecture`` (e.g. ``llama``); None for other kinds, or
        when the file does not say."""
        return self.metadata.get("general.architecture") if self.kind == "gguf" else None

    @property
    def file_type(self) -> str | None:
        """A GGUF's ``general.file_type`` as llama.cpp names it (e.g. ``Q4_K_M``, see
        :func:`precli.sources.gguf.file_type_name`); None for other kinds, or when the file
        does not say."""
        from precli.sources.gguf import file_type_name

        v = self.metadata.get("general.file_type") if self.kind == "gguf" else None
        return None if v is None else file_type_name(v)

    def type_table(self) -> list[dict[str, Any]]:
        """One record per stored type among the selected tensors (skipped and set-aside
        ones included), most bytes first: ``type`` (a GGUF's ggml type name, e.g. ``Q8_0``),
        ``tensors``, ``params``, ``bytes`` (as stored) and ``bits_per_weight`` (8 · bytes /
        params; None for a type of no parameters)."""
        rows: dict[str, list[int]] = {}
        for t in self.tensors:
            r = rows.setdefault(t.dtype, [0, 0, 0])
            r[0] += 1
            r[1] += t.params
            r[2] += t.nbytes
        return [{"type": k, "tensors": n, "params": p, "bytes": b,
                 "bits_per_weight": 8 * b / p if p else None}
                for k, (n, p, b) in sorted(rows.items(), key=lambda kv: -kv[1][2])]

    @property
    def compared(self) -> list[TensorResult]:
        return [t for t in self.tensors if t.skip is None]

    @property
    def compared_bytes(self) -> int:
        return sum(t.nbytes for t in self.compared)

    def summary_records(self) -> list[dict[str, Any]]:
        params = sum(t.params for t in self.compared)
        amaxes = [t.amax for t in self.compared if t.amax is not None]
        out = []
        for j, (s, nbytes) in enumerate(zip(self.summary, self.summary_bytes, strict=True)):
            worst = self.worst(1)[j]
            rec = {"tensor": None, "dtype": None, "shape": None, "params": params,
                   "amax": json_number(max(amaxes)) if amaxes else None,
                   "dynamic_range": None, "skip": None, **s.to_record(), "bytes": nbytes,
                   "stored_bytes": self.compared_bytes, "view": None, "view_from": None,
                   "weighted_sqnr_db": json_number(self.weighted_sqnr(j)),
                   "worst_tensor": worst[0].name if worst else None,
                   "worst_sqnr_db": json_number(worst[0].stats[j].sqnr_db) if worst else None}
            if self.kind == "gguf":  # keys a GGUF's summary records add (after the others)
                rec.update(architecture=self.architecture, file_type=self.file_type,
                           types=self.type_table())
            out.append(rec)
        return out

    def weighted_sqnr(self, j: int) -> float | None:
        """Recipe j's parameter-weighted SQNR in dB: -10 log10 of the mean, weighted by
        parameter count, of each tensor's noise-to-signal ratio 10^(-SQNR/10) (the figure
        plan minimises), so that one small tensor with a wide range cannot decide it the
        way it decides the pooled ``sqnr_db``. -inf when a tensor loses values; None when
        no tensor has an SQNR."""
        num: list[float] = []
        den = 0
        for t in self.compared:
            st = t.stats[j]
            if st.lost:
                return -math.inf
            if st.sqnr_db is None:
                continue
            den += t.params
            db = st.sqnr_db
            num.append(0.0 if db == math.inf else math.inf if db < -3000 else
                       t.params * 10 ** (-db / 10))
        if not den:
            return None
        total = math.fsum(num)
        if total == math.inf:
            return -math.inf
        return math.inf if total == 0 else -10 * math.log10(total / den)

    def records(self) -> list[dict[str, Any]]:
        """Every (tensor, recipe) record in file order, then one summary record per recipe
        (``tensor`` null)."""
        return [r for t in self.tensors for r in t.records()] + self.summary_records()

    def worst(self, n: int = 3) -> list[list[TensorResult]]:
        """Per recipe, the n tensors with the lowest SQNR (lost values first)."""
        out = []
        for j in range(len(self.recipes)):
            def key(t: TensorResult, j: int = j) -> float:
                return _sqnr_key(t.stats[j])

            out.append(sorted(self.compared, key=key)[:n])
        return out


def _sqnr_key(s: CompareStats) -> float:
    return s.sqnr_db if s.sqnr_db is not None else math.inf


def _one(t: Tensor, view: View, recipes: Sequence[Recipe], mode: str, saturate: bool
         ) -> TensorStats:
    """Compare one tensor (runs in a worker process when jobs > 1)."""
    v = Values.of_reader(t.shape, t.read, view)
    try:
        return compare_tensor(recipes, v, mode=mode, saturate=saturate)
    except RaggedRows as e:  # this tensor only: the others are still compared
        raise CheckpointError(t.path, str(e), t.name) from None


def _work(args: tuple[Tensor, View, Sequence[Recipe], str, bool]) -> TensorStats:
    return _one(*args)


def analyze(path: str, recipes: Sequence[Recipe], *, include: str | None = None,
            exclude: str | None = None, jobs: int = 1, mode: str = "nearest-even",
            saturate: bool = False, progress: Callable[[int, int], None] | None = None,
            checkpoint: Checkpoint | None = None, views: Sequence[ViewRule] = (),
            small: bool = False) -> ModelReport:
    """Compare every selected tensor of a checkpoint under each recipe.

    ``include`` / ``exclude``: regular expressions searched in tensor names. Tensors that
    cannot be cast (integer buffers, bool masks, quantized GGUF blocks) are listed with the
    reason. ``progress(tensors_done, bytes_done)`` is called after each tensor. Each tensor
    is seen as the matrix its runtime multiplies (:func:`precli.model.viewing.tensor_view`;
    ``views``: the user's rules, first). 1-D tensors and tensors under :data:`SMALL` values
    are set aside (listed, with ``skip`` saying so) unless ``small``."""
    check_jobs(jobs)
    ck = checkpoint if checkpoint is not None else open_checkpoint(path)
    selected = select_tensors(list(ck.tensors()), include, exclude)
    errors = [str(e) for e in ck.errors]
    aside = {} if small else {t.name: a for t in selected if t.skip is None
                              for a in [set_aside(t)] if a is not None}
    todo = [t for t in selected if t.skip is None and t.name not in aside]
    seen = {t.name: tensor_view(t, views) for t in todo}
    results = run_tensors([(t.name, t.nbytes, (t, seen[t.name], recipes, mode, saturate))
                           for t in todo], _work, jobs, progress)
    tensors: list[TensorResult] = []
    for t in selected:
        skip = t.skip if t.skip is not None else aside.get(t.name)
        if skip is not None:
            tensors.append(TensorResult(t.name, t.dtype, t.format, t.shape, t.numel, t.nbytes,
                                        None, None, skip, []))
            continue
        r = results[t.name]
        if isinstance(r, str):
            errors.append(r)
            continue
        dr = None
        if r.amax is not None and r.min_nonzero is not None:
            dr = math.log2(r.amax / r.min_nonzero)
        tensors.append(TensorResult(t.name, t.dtype, t.format, t.shape, t.numel, t.nbytes,
                                    r.amax, dr, None, r.stats, r, seen[t.name]))
    summary, sbytes = _summary(recipes, tensors)
    return ModelReport(path, ck.kind, ck.stored_bytes, list(recipes), tensors, summary,
                       sbytes, errors, dict(ck.metadata))


def _summary(recipes: Sequence[Recipe], tensors: Sequence[TensorResult]
             ) -> tuple[list[CompareStats], list[int]]:
    done = [t for t in tensors if t._raw is not None]
    params = sum(t.params for t in done)
    out, nbytes = [], []
    for j, r in enumerate(recipes):
        raws = [t._raw for t in done if t._raw is not None]
        tally = merge_tallies([x.tallies[j] for x in raws])
        bits = sum(_bits(r, t) for t in done)
        out.append(summary_stats(r, tally, bits, params, [x.scales[j] for x in raws]))
        nbytes.append(sum(math.ceil(_bits(r, t) / 8) for t in done))
    return out, nbytes


def _bits(r: Recipe, t: TensorResult) -> int:
    """Exact storage bits of one tensor under a recipe."""
    return r.storage_bits(t.shape, t.view)
