"""The trainer: AdamW, linear warm-up then cosine, gradient clipping, EMA, AMP on CUDA, best-by-NME.

Models stay plain ``nn.Module``s exposing ``forward``, ``loss(outputs, keypoints, visible, loss_fn)``
and ``decode(outputs)``; the trainer owns devices, optimisation and bookkeeping.
"""

from __future__ import annotations

import copy
import logging
import math
import random
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from hipbench.pipeline.views import ViewSet
from hipbench.training.augment import AugmentConfig, augment_batch, to_model_input
from hipbench.training.hooks import TrainerHook, TrainResult

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Training settings of one cell (the ``train:`` block of a benchmark YAML)."""

    epochs: int = 20
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 1e-4
    optimizer: str = "adamw"
    schedule: str = "cosine"
    warmup_epochs: float = 1.0
    grad_clip: float | None = 1.0
    ema: float | None = None
    input_size: int = 128
    crop_expand: float = 1.25
    mirror: bool = True
    augmentation: AugmentConfig = field(default_factory=AugmentConfig)
    seed: int = 0
    # speed only (results unchanged up to float rounding); left out of cell hashes while off
    compile: bool = False
    channels_last: bool = False


SPEED_ONLY = ("compile", "channels_last")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) and prefer deterministic kernels.

    Examples:
        >>> seed_everything(3); a = torch.rand(1); seed_everything(3); bool(a == torch.rand(1))
        True
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True


def resolve_device(choice: str = "auto") -> torch.device:
    """``auto`` picks CUDA when present, else CPU; ``cuda`` without a GPU is an error.

    Examples:
        >>> resolve_device("cpu").type
        'cpu'
    """
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was requested but torch sees no CUDA device; use --device auto or cpu")
    return torch.device(choice)


def lr_factor(step: int, total_steps: int, warmup_steps: int, schedule: str) -> float:
    """Learning-rate multiplier: linear warm-up to 1, then cosine to 0 (or constant).

    Examples:
        >>> [round(lr_factor(s, 10, 2, "cosine"), 3) for s in (0, 1, 2, 6, 10)]
        [0.5, 1.0, 1.0, 0.5, 0.0]
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


class Trainer:
    """Fits a keypoint model on in-memory crops; the crops move to the device once per fit. ``hooks``
    (:class:`hipbench.training.hooks.TrainerHook`) watch every fit, in their order.

    Examples:
        >>> trainer = Trainer(TrainConfig(epochs=1), device=torch.device("cpu"))
        >>> trainer.amp
        False
    """

    def __init__(self, cfg: TrainConfig, device: torch.device, amp: bool = False, progress: bool = True,
                 log: logging.Logger | None = None, hooks: Sequence[TrainerHook] = ()) -> None:
        self.cfg = cfg
        self.device = device
        self.amp = bool(amp and device.type == "cuda")
        self.progress = progress
        self.log = log or logger
        self.hooks = list(hooks)
        self._flip_perm: torch.Tensor | None = None

    # inputs --------------------------------------------------------------------------------
    def _tensors(self, views: ViewSet) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        images = torch.from_numpy(views.images).to(self.device).unsqueeze(1)
        keypoints = torch.from_numpy(np.nan_to_num(views.keypoints)).float().to(self.device)
        visible = torch.from_numpy(views.visible & views.has_box[:, None]).to(self.device)
        return images, keypoints, visible

    def _memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.cfg.channels_last else torch.contiguous_format

    def _prepare_model(self, model: nn.Module) -> nn.Module:
        """The module the training steps call: channels-last and/or ``torch.compile`` when asked for."""
        model.to(self.device, memory_format=self._memory_format())
        return torch.compile(model) if self.cfg.compile else model

    def _autocast(self):
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    # training ------------------------------------------------------------------------------
    def fit(self, model: nn.Module, loss_fn: nn.Module, train: ViewSet, val: ViewSet,
            val_nme: Callable[[np.ndarray], float], desc: str = "", keep_last: bool = False) -> TrainResult:
        """Train ``model``; after every epoch score the validation crops with ``val_nme`` (crop-pixel
        predictions -> NME %) and keep a copy of the best weights (the last epoch's with ``keep_last``, for
        training without held-out images). The hooks are called as :mod:`hipbench.training.hooks` says."""
        cfg = self.cfg
        seed_everything(cfg.seed)
        generator = torch.Generator().manual_seed(cfg.seed)
        forward = self._prepare_model(model)
        loss_fn.to(self.device)
        started = time.perf_counter()
        images, keypoints, visible = self._tensors(train)
        self._flip_perm = torch.as_tensor(train.flip_perm, dtype=torch.long) if len(train.flip_perm) else None
        self._data_seconds = time.perf_counter() - started
        usable = torch.nonzero(visible.any(dim=1)).flatten().cpu()
        if len(usable) == 0:
            raise ValueError("no training crop has a visible keypoint")
        optimizer = self._optimizer(model)
        steps_per_epoch = max(1, math.ceil(len(usable) / cfg.batch_size))
        total_steps = steps_per_epoch * cfg.epochs
        warmup = int(round(cfg.warmup_epochs * steps_per_epoch))
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: lr_factor(s, total_steps, warmup, cfg.schedule))
        ema = self._ema(model)
        best: TrainResult = TrainResult({}, -1, math.inf, [], 0.0)
        epochs = range(cfg.epochs)
        if self.progress:
            from tqdm.auto import tqdm

            epochs = tqdm(epochs, desc=desc or "train", unit="epoch", leave=False, dynamic_ncols=True)
        for hook in self.hooks:
            hook.on_fit_start(model)
        for epoch in epochs:
            for hook in self.hooks:
                hook.on_epoch_start(epoch + 1)
            model.train()
            if hasattr(model, "set_progress"):  # e.g. disk_mask codecs shrink their radius over training
                model.set_progress(epoch / max(1, cfg.epochs - 1))
            order = usable[torch.randperm(len(usable), generator=generator)]
            # the epoch's loss is summed on the device: one synchronisation per epoch, not one per step
            total, count = torch.zeros((), device=self.device), 0
            for start in range(0, len(order), cfg.batch_size):
                batch = order[start:start + cfg.batch_size].to(self.device)
                loss = self._step(model, forward, loss_fn, optimizer, images[batch], keypoints[batch],
                                  visible[batch], generator)
                scheduler.step()
                if ema is not None:
                    ema.update_parameters(model)
                total += loss * len(batch)
                count += len(batch)
            scored = ema.module if ema is not None else model
            peaks: list[float] = []
            nme = float(val_nme(self.predict(scored, val, peaks=peaks)))
            record = {"epoch": epoch + 1, "train_loss": float(total) / max(count, 1), "val_nme": nme,
                      "lr": optimizer.param_groups[0]["lr"], "seconds": time.perf_counter() - started}
            if peaks:  # maps' mean height at the decoded points: what the collapse check reads
                record["val_peak"] = float(np.mean(peaks))
            best.history.append(record)
            for hook in self.hooks:
                hook.on_validation(epoch + 1, record)
            self.log.info("epoch %d/%d loss %.5f val NME %.3f%%", epoch + 1, cfg.epochs, record["train_loss"], nme)
            if self.progress:
                epochs.set_postfix(loss=f"{record['train_loss']:.4f}", val_nme=f"{nme:.2f}")
            if keep_last or (math.isfinite(nme) and nme < best.best_val_nme):
                best.best_val_nme, best.best_epoch = nme, epoch + 1
                best.best_state = {k: v.detach().to("cpu", copy=True) for k, v in scored.state_dict().items()}
                for hook in self.hooks:
                    hook.on_checkpoint(epoch + 1, best.best_state)
            for hook in self.hooks:
                hook.on_epoch_end(epoch + 1, record)
        best.train_seconds = time.perf_counter() - started
        best.data_seconds = self._data_seconds
        if not best.best_state:
            raise FloatingPointError("validation NME was never finite; training diverged")
        for hook in self.hooks:
            hook.on_fit_end(best)
        return best

    def _optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        if self.cfg.optimizer.lower() != "adamw":
            raise ValueError(f"unknown optimizer {self.cfg.optimizer!r}; supported: adamw")
        # the fused kernel (one pass over all parameters) is 5x faster than PyTorch's default per-parameter
        # loop on CPU; same update up to float rounding
        try:
            return torch.optim.AdamW(model.parameters(), lr=self.cfg.lr, weight_decay=self.cfg.weight_decay,
                                     fused=True)
        except (RuntimeError, ValueError):  # a device or dtype without the fused kernel
            return torch.optim.AdamW(model.parameters(), lr=self.cfg.lr, weight_decay=self.cfg.weight_decay)

    def _ema(self, model: nn.Module) -> torch.optim.swa_utils.AveragedModel | None:
        if not self.cfg.ema:
            return None
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(self.cfg.ema), use_buffers=True)

    def _step(self, model: nn.Module, forward: nn.Module, loss_fn: nn.Module, optimizer: torch.optim.Optimizer,
              images: torch.Tensor, keypoints: torch.Tensor, visible: torch.Tensor,
              generator: torch.Generator) -> torch.Tensor:
        t0 = time.perf_counter()
        gray = images.float().div_(255.0)
        gray, keypoints, visible = augment_batch(gray, keypoints, visible, self.cfg.augmentation, generator,
                                                 self._flip_perm)
        inputs = to_model_input(gray).contiguous(memory_format=self._memory_format())
        self._data_seconds += time.perf_counter() - t0
        with self._autocast():
            outputs = forward(inputs)
            loss = model.loss(outputs, keypoints, visible.float(), loss_fn)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), self.cfg.grad_clip)
        optimizer.step()
        return loss.detach()

    # inference -----------------------------------------------------------------------------
    @torch.no_grad()
    def predict(self, model: nn.Module, views: ViewSet, batch_size: int = 64, peaks: list[float] | None = None
                ) -> np.ndarray:
        """View-pixel keypoints (M, Ku, 2) for every view, decoded by the model's codec; with ``peaks``, each
        batch's mean map height (``model.peak``, for models whose outputs are maps) is appended to it."""
        model.to(self.device).eval()
        peak = getattr(model, "peak", None) if peaks is not None else None
        out = []
        for start in range(0, len(views), batch_size):
            gray = torch.from_numpy(views.images[start:start + batch_size]).to(self.device).unsqueeze(1)
            with self._autocast():
                outputs = model(to_model_input(gray.float() / 255.0))
            out.append(model.decode(outputs).float().cpu().numpy())
            heights = peak(outputs) if peak is not None else None
            if heights is not None and peaks is not None:
                peaks.append(float(heights.float().mean()))
        return np.concatenate(out) if out else np.zeros((0,) + views.keypoints.shape[1:], np.float32)


def step_seconds(model: nn.Module, loss_fn: nn.Module, size: int, batch: int, num_keypoints: int,
                 device: torch.device, steps: int = 2) -> list[float]:
    """Seconds of each of ``steps`` AdamW training steps of ``model`` on one random batch of ``size`` px views
    (the first includes warm-up; CUDA is synchronised after each).

    Examples:
        >>> from hipbench.models.keypoint_model import build_model
        >>> m = build_model({"type": "timm", "model_name": "test_resnet"}, {"type": "direct_regression"}, 3, 32)
        >>> len(step_seconds(m, m.build_default_loss(), 32, 2, 3, torch.device("cpu")))
        2
    """
    model.to(device)
    loss_fn.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    images = torch.randn(batch, 3, size, size, device=device)
    keypoints = torch.rand(batch, num_keypoints, 2, device=device) * (size * 0.6) + size * 0.2
    visible = torch.ones(batch, num_keypoints, device=device)
    seconds = []
    for _ in range(steps):
        t0 = time.perf_counter()
        loss = model.loss(model(images), keypoints, visible, loss_fn)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds.append(time.perf_counter() - t0)
    return seconds


def load_best(model: nn.Module, result: TrainResult) -> nn.Module:
    """``model`` with ``result``'s best weights loaded (a copy; the trained model is left alone)."""
    best = copy.deepcopy(model).cpu()
    best.load_state_dict(result.best_state)
    return best
