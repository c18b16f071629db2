"""``timm``: any timm model as a hipbench :class:`~hipbench.models.Backbone` (``features_only``).

Starting weights: ``pretrained: true | TAG`` (timm's pretrained tags, through the Hugging Face cache,
see :mod:`.pretrained`), or ``checkpoint:`` a local file; otherwise scratch.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from hipbench.models.backbone import Backbone
from hipbench.models.weights import SCRATCH, WeightsRecord, file_sha256
from hipbench.offline import import_timm

# wrappers that checkpoints commonly put around the weights, tried in this order
_NESTED_KEYS = ("state_dict", "model", "model_state", "model_state_dict", "module", "ema")
_PREFIXES = ("", "module.", "model.", "backbone.", "backbone.model.", "encoder.", "module.backbone.model.")


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a local checkpoint: ``.safetensors``, or a torch file read with ``weights_only=True``.

    A dict nested under ``state_dict``/``model``/... is unwrapped.

    Examples:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "w.pt")
        >>> torch.save({"state_dict": {"a": torch.zeros(2)}}, path)
        >>> list(read_state_dict(path))
        ['a']
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file {path} does not exist (checkpoint: names a local file; "
                                "for hub weights use `pretrained: true` or `pretrained: TAG`)")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        obj: Any = load_file(str(path), device="cpu")
    else:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # pickles with code, or not a torch file at all
            raise ValueError(f"checkpoint {path} could not be read safely with torch.load(weights_only=True): "
                             f"{type(exc).__name__}: {exc}") from exc
    while isinstance(obj, dict) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
        nested = next((obj[k] for k in _NESTED_KEYS if isinstance(obj.get(k), dict)), None)
        if nested is None:
            break
        obj = nested
    if not isinstance(obj, dict) or not obj:
        raise ValueError(f"checkpoint {path} holds no state dict (got {type(obj).__name__})")
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise ValueError(f"checkpoint {path} holds no tensors (keys: {', '.join(list(obj)[:5])})")
    return tensors


def _examples(keys: Sequence[str], limit: int = 4) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys)} in all)" if len(keys) > limit else "")


def _canonical(key: str) -> str:
    # timm's features_only wrapper flattens nested stages ("stages.2" -> "stages_2"); comparing keys
    # with "_" read as "." matches a classification checkpoint to the feature model
    return key.replace("_", ".")


def _match_keys(own: Sequence[str], state: dict[str, torch.Tensor]) -> dict[str, str]:
    """Map each module key to the checkpoint key that holds its weights (prefix and flattening aware)."""
    best: dict[str, str] = {}
    for prefix in _PREFIXES:
        stripped = {k[len(prefix):]: k for k in state if k.startswith(prefix)}
        canonical: dict[str, str | None] = {}
        for short, full in stripped.items():
            canonical[_canonical(short)] = None if _canonical(short) in canonical else full
        found = {}
        for key in own:
            if key in stripped:
                found[key] = stripped[key]
            elif canonical.get(_canonical(key)):
                found[key] = canonical[_canonical(key)]
        if len(found) > len(best):
            best = found
    return best


def load_checkpoint(module: nn.Module, path: str | Path, strict: bool = True, name: str | None = None
                    ) -> dict[str, int]:
    """Load a local checkpoint into ``module``; return counts of loaded and ignored keys.

    A common wrapper prefix (``module.``, ``model.``, ``backbone.``, ...) is stripped, and a timm
    classification checkpoint fits the ``features_only`` model. Checkpoint keys the module does not
    have (a classifier, say) are ignored. Missing keys or shape mismatches raise a ``ValueError``
    that names a few of them (and ``name``, the model's, when given); with ``strict=False`` the matching keys
    are loaded and only shape mismatches or a checkpoint that matches nothing are errors.

    Examples:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "w.pt")
        >>> torch.save({"module.weight": torch.ones(2, 3), "module.bias": torch.ones(2)}, path)
        >>> load_checkpoint(nn.Linear(3, 2), path)
        {'loaded': 2, 'ignored': 0}
    """
    state = read_state_dict(path)
    own = module.state_dict()
    source = _match_keys(list(own), state)
    missing = [k for k in own if k not in source and not k.endswith("num_batches_tracked")]
    mismatched = [f"{k} (checkpoint {tuple(state[source[k]].shape)} vs model {tuple(own[k].shape)})"
                  for k in source if state[source[k]].shape != own[k].shape]
    unexpected = sorted(set(state) - set(source.values()))
    if not source or mismatched or (strict and missing):
        parts = []
        if missing:
            parts.append(f"{len(missing)} of {len(own)} model keys missing (e.g. {_examples(missing)})")
        if mismatched:
            parts.append(f"{len(mismatched)} shape mismatches: {_examples(mismatched, 3)}")
        if unexpected:
            parts.append(f"{len(unexpected)} checkpoint keys unused (e.g. {_examples(unexpected)})")
        raise ValueError(f"checkpoint {path} does not fit {name or type(module).__name__}: " + "; ".join(parts)
                         + ". Is it the weights of the same architecture?")
    module.load_state_dict({k: state[v] for k, v in source.items()}, strict=False)
    return {"loaded": len(source), "ignored": len(unexpected)}


class TimmBackbone(Backbone):
    """A timm model built with ``features_only=True``; channels and strides come from its ``feature_info``.

    ``out_indices`` picks feature levels (timm's default: all). ``pretrained: true`` starts from timm's
    default pretrained tag of the model, ``pretrained: TAG`` from that tag (``timm/convnext_small.fb_in22k_ft_in1k``
    style), fetched once into the Hugging Face cache (read-only under ``HIPBENCH_OFFLINE=1``).
    ``checkpoint`` names a local weights file (``.safetensors``, or a torch file loaded with
    ``weights_only=True``) of the classification model or of this backbone. ``self.weights`` records
    which weights it started from. Other keyword arguments go to ``timm.create_model``.

    Examples:
        >>> net = TimmBackbone("resnet18", out_indices=(2, 3, 4))
        >>> net.out_channels, net.strides, net.weights.label
        ((128, 256, 512), (8, 16, 32), 'scratch')
        >>> [tuple(f.shape) for f in net(torch.zeros(1, 3, 64, 64))]
        [(1, 128, 8, 8), (1, 256, 4, 4), (1, 512, 2, 2)]
    """

    list_summary = "any timm model: type: timm, model_name: NAME"  # what `hipbench list` shows beside it

    def __init__(self, model_name: str, out_indices: Sequence[int] | None = None, checkpoint: str | None = None,
                 pretrained: bool | str = False, strict: bool = True, **timm_kwargs: Any) -> None:
        timm = import_timm()
        if not timm.is_model(model_name):
            close = difflib.get_close_matches(model_name, timm.list_models(), n=3, cutoff=0.6)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            raise ValueError(f"timm has no model {model_name!r} (timm {timm.__version__}).{hint}")
        if pretrained and checkpoint:
            raise ValueError(f"backbone {model_name!r}: give either `pretrained:` (hub weights) or `checkpoint:` "
                             "(a local file), not both")
        kwargs: dict[str, Any] = {**timm_kwargs, "features_only": True}
        if out_indices is not None:
            kwargs["out_indices"] = tuple(int(i) for i in out_indices)
        weights, name = WeightsRecord(), model_name
        if pretrained:
            from hipbench_plugins.backbones.pretrained import fetch_weights, resolve_tag

            tag = resolve_tag(model_name, pretrained)
            path = fetch_weights(tag)
            weights, name = WeightsRecord(tag.source, str(path), file_sha256(path)), tag.model
            # timm's own pretrained loader, reading the cached file (no second hub lookup)
            kwargs["pretrained_cfg_overlay"] = {"file": str(path), "source": ""}
        try:
            model = timm.create_model(name, pretrained=bool(pretrained), **kwargs)
        except Exception as exc:  # timm raises a mix of TypeError/AssertionError/RuntimeError
            raise ValueError(f"timm could not build {model_name!r} with features_only and {timm_kwargs or 'no'} "
                             f"extra arguments, out_indices={out_indices}: {type(exc).__name__}: {exc}") from exc
        info = model.feature_info
        super().__init__(out_channels=tuple(info.channels()), strides=tuple(info.reduction()))
        if list(self.strides) != sorted(self.strides):
            raise ValueError(f"backbone {model_name!r}: out_indices {out_indices} give strides {self.strides}; "
                             "list them finest first")
        self.model_name = model_name
        self.model = model
        if checkpoint:
            load_checkpoint(self.model, checkpoint, strict=strict, name=f"timm model {model_name!r}")
            weights = WeightsRecord("file", str(Path(checkpoint).expanduser().resolve()), file_sha256(checkpoint))
        self.weights = weights

    @staticmethod
    def weights_identity(model_name: str, pretrained: bool | str = False, checkpoint: str | None = None,
                         **_: Any) -> str:
        """What these arguments start from, without downloading: ``scratch``, the hub tag, or the file's sha256.

        Examples:
            >>> TimmBackbone.weights_identity("resnet18", pretrained=True)
            'timm/resnet18.a1_in1k'
        """
        if checkpoint:
            path = Path(checkpoint).expanduser()
            return f"file:{file_sha256(path)}" if path.is_file() else f"file:{path}"
        if pretrained:
            from hipbench_plugins.backbones.pretrained import resolve_tag

            return resolve_tag(model_name, pretrained).source
        return SCRATCH

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.model(images))
