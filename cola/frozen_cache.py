"""The frozen-prefix cache: frozen layer groups run once per sentence, instead of at every step.

With the bottom groups frozen (`--freeze N`, `requires_grad` method) and in eval mode (`--frozen_eval_mode`),
their output for a sentence never changes: embeddings + frozen layers are a fixed function of the token ids. So
the first time a batch holds a sentence, the frozen prefix runs (eval mode, no grad, the run's autocast) and the
sentence's unpadded hidden states are kept in one flat tensor, found by the sentence's token ids; every batch
holding it re-pads them from there. No separate pass over the data comes before the first step, and a run that
stops early never pays for most sentences it never read. The model runs with its frozen modules patched for the
length of one forward call only: the first one returns the cached states, the others pass them through. The
model's own forward still builds the attention mask, runs the trainable layers, the pooler and the head, so the
losses, gradients and final weights are those of the uncached run (within float tolerance: a sentence's states
computed in one batch and read in another may differ in the last bits). Nothing about the model changes between
calls: checkpoints and the saved model are the complete model.

Which batch computes a sentence's states is fixed in advance, not left to whichever training batch first holds it:
the distinct sentences are cut once into small chunks of one length each (no padding), and a sentence's states are
always its chunk's (the whole chunk runs when a batch first needs one of them). So the cache holds the same bits
however the run got there: a run resumed from a checkpoint (whose cache starts empty and fills in another order)
trains exactly as the uninterrupted one, and every process of a DDP run holds the same states.

When the floor rises during training (`cola.progressive`), the cache grows: only the newly frozen groups run, once
over every chunk already cached, starting from the cached states (the old prefix replayed); this gives the bits
that the whole new prefix gives on the same chunk, which is what a chunk not cached yet gets when a batch first
needs it.

Where it is exact is checked, not assumed: for each prefix, a probe batch runs through the model with and without
the cache, and the logits must agree. (What the probe cannot see, and what every BERT-family encoder gives: a
sentence's hidden states do not depend on the other sentences of its batch or on their padding, since padded
positions are masked out of attention. The exactness tests train each architecture both ways.) An architecture
whose frozen prefix cannot be cut this way (its forward does more between the frozen modules than pass one tensor
along) fails the probe: an error when `--cache_frozen true` asked for the cache, a logged fall-back to the uncached
run when it was left to the default.

Whether a run tries the cache is the plan's call (`cola.plan.TrainingPlan.why_not_cached`); this module builds
and replays it.

A batch holding a sentence that is not one of the training and evaluation sentences (`trainer.predict` on new
data) runs uncached.

Memory: the size is known before any state is computed (distinct sentences' tokens x hidden size x bytes). Up to
`--cache_memory_gb` (and half the memory available) it is a tensor in memory; larger, a memory-mapped file in the
output folder, unlinked as soon as it is mapped, so it disappears with the process, even on a crash. A cache
that fits neither is refused when its first prefix is set (before training for `--freeze`).
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass

import numpy as np
import psutil
import torch
from torch import nn
from transformers.utils.logging import tqdm

from .errors import CliError, on_one_line
from .freezing import LayerGroup, dummy_forward, modules_of, place

logger = logging.getLogger(__name__)

MODEL_INPUTS = ("input_ids", "token_type_ids", "attention_mask")  # what the frozen prefix reads from a batch
PROBE_ROWS = 8
PROBE_TOLERANCE = 1e-4  # on logits, relative to their scale; float noise of re-padding is ~1e-6 in fp32
DISK_MARGIN = 1.1
CHUNK = 16  # sentences of one length computed together: small, so that a batch's first read computes little more


class CacheNotExact(Exception):
    """The frozen prefix of this model cannot be replaced by its cached output (the probe disagreed)."""


@dataclass
class _Slot:
    offset: int
    length: int


class FrozenPrefixCache:
    """The cached output of the frozen groups, filled as batches first hold each sentence, grown when the floor
    rises, and the means to replay it inside the model's forward."""

    def __init__(self, model: nn.Module, groups: list[LayerGroup], floor: int, datasets, *, collate,
                 device, autocast, memory_gb: float, spill_dir: str, progress: bool = True):
        """`datasets`: every sentence the cache may hold (training and evaluation); `autocast`: a function giving the
        Trainer's autocast context (the states must be what the uncached run computes, in its dtype)."""
        self.model, self.groups = model, list(groups)
        self.collate, self.device, self.autocast = collate, device, autocast
        self.memory_gb, self.spill_dir, self.progress = memory_gb, spill_dir, progress
        # The columns that identify a sentence: those of its model inputs that this model reads (the Trainer drops
        # the others, e.g. DistilBERT's token_type_ids, before a batch arrives).
        accepted = inspect.signature(model.forward).parameters
        self.columns = [name for name in MODEL_INPUTS if name in accepted]
        self.rows = _distinct_rows(datasets, self.columns)
        self.sentences = sum(len(d) for d in datasets)
        # Each distinct sentence's place is known before any state is computed: its tokens, in order.
        self.slots: dict[bytes, _Slot] = {}
        offset = 0
        for key, row in self.rows.items():
            length = int(sum(row["attention_mask"]))
            self.slots[key] = _Slot(offset, length)
            offset += length
        self.tokens = offset
        # The batch each sentence's states are always computed in (see the module's docstring).
        self.chunks = _chunks(self.slots)
        self.chunk_of = {key: i for i, chunk in enumerate(self.chunks) for key in chunk}
        self.filled: set[bytes] = set()  # the sentences whose states are in `storage`
        self.storage: torch.Tensor | None = None
        self._dtype: torch.dtype | None = None
        self.group_names: list[str] = []
        self.modules: list[nn.Module] = []
        self.shapes: list = []
        self.last_calls = 1
        self.misses = 0
        self.where = "memory"
        self.bytes = 0
        self.seconds = 0.0  # spent computing states: filling and growing
        self.grown = 0  # passes that grew the cache over newly frozen groups
        self.set_floor(floor)

    # --- the prefix: set, and raised ---

    def set_floor(self, floor: int) -> None:
        """The cache holds the output of the bottom `floor` groups from now on. When it rises over a cache that holds
        states, only the newly frozen groups run, once over every sentence cached, from the cached states."""
        # A frozen pooler is not cached: it reads the last layer's output, which is then the cached tensor, and
        # costs one small matmul on the first token.
        prefix = [g for g in self.groups[:floor] if place(g.name) != "top"]
        if [g.name for g in prefix] == self.group_names:
            return
        model, started = self.model, time.perf_counter()
        old = (self.modules, self.shapes)
        # Module by module within each group: a whole frozen encoder would be one module that returns more than a tensor.
        try:
            path = _hidden_state_path(model, [m for group in prefix for m in modules_of(model, [group])])
        except Exception as error:  # noqa: BLE001 - whatever this architecture does, the answer is "not exact"
            raise CacheNotExact(f"{type(model).__name__}: the frozen prefix could not be traced ({on_one_line(error)})") from None
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad(), self.autocast():
                self.modules, self.shapes, self.last_calls = path
                self.group_names = [g.name for g in prefix]
                dtype = self._check_probe(model, list(self.rows.values())[:PROBE_ROWS])
                if self.filled:
                    self._grow(model, old, dtype)
                elif self.storage is None or dtype != self._dtype:
                    self._allocate(model, dtype)
        finally:
            model.train(was_training)
        self.seconds += time.perf_counter() - started
        logger.info("Frozen-layer cache: %s", self.summary_line())

    def _check_probe(self, model, features) -> torch.dtype:
        batch = _to_device(self.collate(features), self.device)
        expected = model(**batch).logits.float()
        try:
            states = self._prefix_output(model, batch)
            with self.replaying(states):
                got = model(**batch).logits.float()
        except Exception as error:  # noqa: BLE001 - a forward that cannot take the cached states: not exact
            raise CacheNotExact(f"{type(model).__name__}: the model's forward fails with the cached prefix "
                                f"({on_one_line(error)})") from None
        scale = expected.abs().max().clamp_min(1.0)
        error = ((got - expected).abs().max() / scale).item()
        if not error <= PROBE_TOLERANCE:
            raise CacheNotExact(f"{type(model).__name__}: logits with the cached prefix differ from the full model's by "
                                f"{error:.2g} (relative); its forward does more between the frozen modules than pass "
                                f"the hidden states along")
        return states.dtype

    def _prefix_output(self, model, batch) -> torch.Tensor:
        """The padded output of the last frozen module, for a batch (the rest of the model does not run)."""
        captured = []

        def stop(_module, _inputs, output):
            captured.append(_first_tensor(output))
            if len(captured) == self.last_calls:  # ALBERT's shared layer: its last depth
                raise _PrefixDone

        hook = self.modules[-1].register_forward_hook(stop)
        try:
            model(**batch)
        except _PrefixDone:
            pass
        finally:
            hook.remove()
        return captured[-1]

    def _allocate(self, model, dtype: torch.dtype) -> None:
        hidden = model.config.hidden_size
        size = self.tokens * hidden * torch.empty((), dtype=dtype).element_size()
        available = psutil.virtual_memory().available
        if size <= self.memory_gb * 2**30 and size <= available / 2:
            self.storage = torch.empty((self.tokens, hidden), dtype=dtype)
            self.where = "memory"
        else:
            os.makedirs(self.spill_dir, exist_ok=True)
            free = shutil.disk_usage(self.spill_dir).free
            if size * DISK_MARGIN > free:
                raise CliError(f"the frozen-layer cache needs {_mb(size)} and fits neither in memory (--cache_memory_gb "
                               f"{self.memory_gb:g}, half of the {_mb(available)} available) nor on disk at "
                               f"{self.spill_dir} ({_mb(free)} free); use --cache_frozen false")
            self.storage = _mapped_tensor(self.tokens, hidden, dtype, self.spill_dir)
            self.where = f"a memory-mapped file in {self.spill_dir} (unlinked)"
        self._dtype, self.bytes = dtype, size

    def _grow(self, model, old: tuple[list, list], dtype: torch.dtype) -> None:
        """Run the newly frozen groups over every cached sentence, from its cached states (the old prefix replayed)."""
        source = self.storage
        if dtype != self._dtype:
            self._allocate(model, dtype)

        def grown(chunk, batch, mask):
            with _replaying(*old, self._padded(source, chunk, mask).to(self.device)):
                return self._prefix_output(model, batch)

        self._over(sorted({self.chunk_of[key] for key in self.filled}), grown, "Frozen-layer cache grows")
        self.grown += 1

    def fill_all(self) -> None:
        """Compute every sentence's states now, in one pass, instead of as batches first hold them: for the benchmark,
        which times steps that read the cache and reports this pass on its own."""
        model, started = self.model, time.perf_counter()
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad(), self.autocast():
                self._fill({self.chunk_of[k] for k in self.rows if k not in self.filled}, progress=self.progress)
        finally:
            model.train(was_training)
        self.seconds += time.perf_counter() - started

    def _fill(self, chunks: set[int], *, progress: bool = False) -> None:
        """Compute and keep the frozen prefix's states of whole `chunks` (each on its own, however it was asked for)."""
        self._over(sorted(chunks), lambda _chunk, batch, _mask: self._prefix_output(self.model, batch),
                   "Frozen-layer cache fills", progress=progress)

    def _over(self, chunks: list[int], states_of, description: str, *, progress: bool | None = None) -> None:
        """Compute and keep the states of `chunks`, one batch each (`states_of(keys, batch, mask)` gives a batch's)."""
        progress = self.progress if progress is None else progress
        total = sum(len(self.chunks[i]) for i in chunks)
        with tqdm(total=total, desc=description, unit=" sentences", disable=not progress, leave=False) as bar:
            for index in chunks:
                chunk = self.chunks[index]
                batch = _to_device(self.collate([self.rows[k] for k in chunk]), self.device)
                mask = batch["attention_mask"].bool().cpu()
                states = states_of(chunk, batch, mask).to("cpu", self.storage.dtype)
                for i, key in enumerate(chunk):
                    slot = self.slots[key]
                    self.storage[slot.offset:slot.offset + slot.length] = states[i][mask[i]]
                    self.filled.add(key)
                bar.update(len(chunk))

    def _padded(self, storage: torch.Tensor, keys: list[bytes], mask: torch.Tensor) -> torch.Tensor:
        out = torch.zeros((*mask.shape, storage.shape[1]), dtype=storage.dtype)
        for i, key in enumerate(keys):
            slot = self.slots[key]
            out[i, mask[i]] = storage[slot.offset:slot.offset + slot.length]
        return out

    # --- using ---

    def states_for(self, inputs: dict) -> torch.Tensor | None:
        """The batch's frozen-prefix states, padded as the batch is, from the cache (the chunks of sentences it does
        not hold yet are computed first). None: nothing is frozen yet, or a sentence of the batch is not one the
        cache was made for (it runs uncached)."""
        if not self.modules or "attention_mask" not in inputs:
            return None
        mask = inputs["attention_mask"].bool().cpu()
        columns = {name: inputs[name].cpu().numpy() for name in self.columns if name in inputs}
        keys = [_key({name: values[i][mask[i].numpy()] for name, values in columns.items()}) for i in range(mask.shape[0])]
        if any(key not in self.slots for key in keys):
            self.misses += 1
            if self.misses == 1:
                logger.warning("A batch holds a sentence the frozen-layer cache does not have: it runs uncached")
            return None
        missing = {self.chunk_of[key] for key in keys if key not in self.filled}
        if missing:
            started = time.perf_counter()
            with torch.no_grad(), self.autocast():
                self._fill(missing)
            self.seconds += time.perf_counter() - started
        return self._padded(self.storage, keys, mask).to(inputs["attention_mask"].device, non_blocking=True)

    def replaying(self, states: torch.Tensor):
        """For one forward call: the first frozen module on the hidden states' path returns `states`, the later
        ones pass them along, each in the shape of what it returns (a tensor, or a tuple led by it). Frozen
        modules beside the path (a bias table every layer reads) run as they are."""
        return _replaying(self.modules, self.shapes, states)

    # --- reporting ---

    def summary(self) -> dict:
        """results.json's `frozen_cache`. `build_seconds`: the time spent computing states (filling and growing)."""
        return {"used": True, "groups": self.group_names, "sentences": self.sentences, "distinct_sentences": len(self.slots),
                "cached_sentences": len(self.filled), "grow_passes": self.grown, "bytes": self.bytes,
                "where": self.where, "build_seconds": round(self.seconds, 3)}

    def summary_line(self) -> str:
        return (f"{' + '.join(self.group_names) or 'nothing yet'} cached for {len(self.filled):,} of {len(self.slots):,} "
                f"distinct sentences (of {self.sentences:,}), each computed when a batch first holds it; "
                f"{_mb(self.bytes)} in {self.where}; {self.seconds:.1f} s computing states")


@contextlib.contextmanager
def _replaying(modules: list[nn.Module], shapes: list, states: torch.Tensor):
    first, *rest = modules
    first.forward = _returning(states, shapes[0])
    for module, shape in zip(rest, shapes[1:]):
        module.forward = _passing_along(shape)
    try:
        yield
    finally:
        for module in modules:
            del module.forward  # the instance attribute: the class's forward is back


class _PrefixDone(Exception):
    """Raised by a hook after the last frozen module: the rest of the model need not run."""


def _first_tensor(value):
    """The hidden states in what a module returns: the value itself, or the first item of a tuple or output."""
    if torch.is_tensor(value):
        return value
    if isinstance(value, (tuple, list)) and value and torch.is_tensor(value[0]):
        return value[0]
    if hasattr(value, "to_tuple"):  # a ModelOutput
        return _first_tensor(value.to_tuple())
    return None


def _shape_of(output) -> int | None:
    """How a module returns its hidden states: None for a bare tensor, else the length of the tuple they lead."""
    return len(output) if isinstance(output, (tuple, list)) else None


def _shaped(states, shape: int | None):
    return states if shape is None else (states, *([None] * (shape - 1)))


def _returning(states, shape):
    return lambda *args, **kwargs: _shaped(states, shape)


def _passing_along(shape):
    def forward(*args, **kwargs):
        hidden = args[0] if args else kwargs.get("hidden_states", next(iter(kwargs.values())))
        return _shaped(_first_tensor(hidden), shape)

    return forward


def _hidden_state_path(model: nn.Module, modules: list[nn.Module]) -> tuple[list[nn.Module], list, int]:
    """Which of the frozen `modules` the hidden states flow through, in order, on one forward pass of the model's
    dummy inputs: the first that runs, then each whose input is the previous one's output. The rest run beside the
    path (MPNet's relative attention bias gets position buckets, DeBERTa's relative embeddings are read as a
    weight) and are left alone. Returns the path, how each returns its states (see `_shape_of`), and how many
    times the last one runs (once; ALBERT's shared layer at every depth)."""
    calls: list[tuple[int, object, object]] = []

    def recorder(i):
        def record(_module, args, kwargs, output):
            given = args[0] if args else kwargs.get("hidden_states", kwargs.get("input_ids"))
            calls.append((i, given, output))
        return record

    hooks = [m.register_forward_hook(recorder(i), with_kwargs=True) for i, m in enumerate(modules)]
    try:
        dummy_forward(model)
    finally:
        for hook in hooks:
            hook.remove()
    if not calls:
        raise CacheNotExact("no frozen module runs in the model's forward pass")
    path, shapes, current = [calls[0][0]], [_shape_of(calls[0][2])], _first_tensor(calls[0][2])
    for i, given, output in calls[1:]:
        if torch.is_tensor(given) and current is not None and (given is current or (
                given.data_ptr() == current.data_ptr() and given.shape == current.shape)):
            if i != path[-1]:
                path.append(i)
                shapes.append(_shape_of(output))
            current = _first_tensor(output)
    last_calls = sum(1 for i, given, _ in calls if i == path[-1])
    return [modules[i] for i in path], shapes, last_calls


def _chunks(slots: dict[bytes, _Slot]) -> list[list[bytes]]:
    """The distinct sentences cut into chunks of up to CHUNK of one length, longest first (a batch too large for the
    device fails at once), in the order the sentences first appear: fixed by the data alone."""
    by_length: dict[int, list[bytes]] = {}
    for key, slot in slots.items():
        by_length.setdefault(slot.length, []).append(key)
    return [keys[first:first + CHUNK] for length in sorted(by_length, reverse=True)
            for keys in [by_length[length]] for first in range(0, len(keys), CHUNK)]


def _distinct_rows(datasets, columns: list[str]) -> dict[bytes, dict]:
    """Each distinct sentence (by its token ids) once, as the model-input columns of its first row."""
    rows: dict[bytes, dict] = {}
    for dataset in datasets:
        names = [name for name in columns if name in dataset.column_names]
        for row in dataset.select_columns(names):
            mask = np.asarray(row["attention_mask"], dtype=bool)
            rows.setdefault(_key({n: np.asarray(row[n])[mask] for n in names if n != "attention_mask"}), row)
    return rows


def _key(columns: dict[str, np.ndarray]) -> bytes:
    """A sentence's identity: its real tokens' ids (and token types), padding left out."""
    return b"|".join(np.asarray(columns[name], dtype=np.int64).tobytes()
                     for name in MODEL_INPUTS if name in columns and name != "attention_mask")


def _to_device(batch, device) -> dict:
    return {k: v.to(device) for k, v in batch.items()}


def _mapped_tensor(rows: int, cols: int, dtype: torch.dtype, folder: str) -> torch.Tensor:
    handle, path = tempfile.mkstemp(prefix=".frozen-cache-", dir=folder)
    os.close(handle)
    try:
        numpy_dtype = {torch.float32: np.float32, torch.float16: np.float16}.get(dtype)
        if numpy_dtype is None:  # bf16 has no numpy dtype: map raw 16-bit words and view them as bf16
            array = np.memmap(path, dtype=np.int16, mode="w+", shape=(rows, cols))
            return torch.from_numpy(array).view(dtype)
        return torch.from_numpy(np.memmap(path, dtype=numpy_dtype, mode="w+", shape=(rows, cols)))
    finally:
        os.unlink(path)  # the mapping stays valid; the file goes when the process does


def _mb(size: float) -> str:
    return f"{size / 2**20:,.1f} MB"
