"""Seeded random-weight checkpoints of the real architectures (tests and benchmark)."""

from __future__ import annotations

import json
from pathlib import Path

import torch


def mobilenet_v2_write(path: Path) -> None:
    if path.exists():
        return
    from torchvision.models import mobilenet_v2

    torch.manual_seed(0)
    model = mobilenet_v2(weights=None)
    # Freshly initialised, MobileNetV2's activations shrink to ~1e-9 by the last layer and
    # every score is 0.001. Calibrating the batch-norm statistics on random inputs gives a
    # model whose scores differ from image to image, as a trained one's do.
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        for _ in range(4):
            model(torch.rand(8, 3, 224, 224) * 4 - 2)
    model.eval()
    # torchvision's classifier init (std 0.01) would still give near-uniform scores.
    torch.nn.init.normal_(model.classifier[1].weight, std=0.1)
    torch.save(model.state_dict(), path)


def clip_write(config_file: Path, weights: Path, config: dict) -> None:
    """An OpenCLIP model config (registered under the file's stem) and its random weights."""
    if config_file.exists() and weights.exists():
        return
    import open_clip

    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text(json.dumps(config, indent=2))
    open_clip.add_model_config(config_file)
    torch.manual_seed(0)
    clip = open_clip.create_model(config_file.stem, pretrained=None)
    torch.save(clip.state_dict(), weights)
