"""Pretrained timm weights through timm's own registry and the Hugging Face hub cache.

``pretrained: true`` takes timm's default pretrained tag of the model; ``pretrained: TAG`` accepts
``timm/convnext_small.fb_in22k_ft_in1k``, ``hf-hub:timm/...``, ``convnext_small.fb_in22k_ft_in1k`` or
just ``fb_in22k_ft_in1k``. The weights file is fetched (once) into the Hugging Face cache with
``hf_hub_download``; under ``HIPBENCH_OFFLINE=1`` only the cache is read and a miss names the file and
the cache path where it belongs. timm then loads that file with its own pretrained machinery.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from hipbench.offline import forbid_download, import_timm, offline_requested

# timm's order: the safetensors file when the hub repo has one, else the pickled torch file
_HUB_FILES = ("model.safetensors", "pytorch_model.bin")


@dataclass(frozen=True)
class PretrainedTag:
    """A resolved pretrained tag: the timm model name with tag and its hub repository."""

    model: str  # e.g. "resnet18.a1_in1k"
    hub_id: str  # e.g. "timm/resnet18.a1_in1k"
    hub_filename: str | None = None

    @property
    def source(self) -> str:
        return self.hub_id


def resolve_tag(model_name: str, pretrained: bool | str) -> PretrainedTag:
    """The weights ``pretrained`` names for timm model ``model_name``, from timm's registry (no download).

    Examples:
        >>> resolve_tag("resnet18", True).hub_id
        'timm/resnet18.a1_in1k'
        >>> resolve_tag("resnet18", "timm/resnet18.tv_in1k").model
        'resnet18.tv_in1k'
        >>> try:
        ...     resolve_tag("resnet18", "timm/convnext_small.fb_in1k")
        ... except ValueError as e:
        ...     print(str(e)[:72])
        pretrained tag 'timm/convnext_small.fb_in1k' is for 'convnext_small', bu
    """
    timm = import_timm()
    from timm.models import get_pretrained_cfg

    arch = model_name.split(".", 1)[0]
    if pretrained is True:
        name = model_name
    else:
        text = str(pretrained).strip().removeprefix("hf-hub:").removeprefix("hf_hub:")
        text = text.split("/", 1)[1] if text.startswith("timm/") else text
        name = text if "." in text or timm.is_model(text) else f"{arch}.{text}"
        if name.split(".", 1)[0] != arch:
            raise ValueError(f"pretrained tag {pretrained!r} is for {name.split('.', 1)[0]!r}, but the backbone "
                             f"is {arch!r}; tags for it: {', '.join(timm.list_pretrained(arch + '.*')[:8])}")
    try:
        cfg = get_pretrained_cfg(name, allow_unregistered=False)
    except RuntimeError:  # timm: "Invalid pretrained tag" or an architecture without pretrained cfgs
        cfg = None
    if cfg is None:
        known = timm.list_pretrained(arch + ".*") or timm.list_pretrained(arch)
        raise ValueError(f"timm {timm.__version__} has no pretrained weights {name!r}"
                         + (f"; tags: {', '.join(known[:10])}" if known else f"; {arch!r} has no pretrained tags"))
    if not cfg.hf_hub_id:
        raise ValueError(f"timm's pretrained {name!r} is not on the Hugging Face hub ({cfg.url or 'no url'}); "
                         "download it yourself and give `checkpoint: /path/to/file`")
    tagged = name if "." in name else f"{name}.{cfg.tag}" if getattr(cfg, "tag", None) else name
    return PretrainedTag(tagged, cfg.hf_hub_id, cfg.hf_hub_filename)


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache (``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else the hub's default),
    read at call time so a caller can point it elsewhere."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def fetch_weights(tag: PretrainedTag) -> Path:
    """The local file of ``tag``'s weights: from the hub cache, downloaded into it when allowed."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    repo, _, revision = tag.hub_id.partition("@")
    cache = hub_cache_dir()
    names = (tag.hub_filename,) if tag.hub_filename else _HUB_FILES
    offline = offline_requested()
    for filename in names:
        try:
            return Path(hf_hub_download(repo, filename, revision=revision or None, cache_dir=str(cache),
                                        local_files_only=offline))
        except (LocalEntryNotFoundError, EntryNotFoundError) as exc:
            if offline or isinstance(exc, EntryNotFoundError):
                continue
            raise
    folder = cache / f"models--{repo.replace('/', '--')}"
    if offline:
        raise forbid_download(
            f"pretrained weights {tag.hub_id!r} (timm model {tag.model!r})", f"{names[0]} of hub repo {repo}",
            f"{folder}/snapshots/<commit>/{names[0]} with {folder}/refs/{revision or 'main'} holding <commit>",
            how=f"On a machine online: `huggingface-cli download {repo} {names[0]}`, then copy {folder}.")
    raise FileNotFoundError(f"hub repo {repo} has none of {', '.join(names)}")
