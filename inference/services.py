"""Contract of the inference engine (filled in by the inference work).

    classify(model_version=..., inputs=[ImageInput...], labels=None|[...], top_k=5)
        -> Iterator[list[ImageOutcome]]  (one list per batch, in input order)

A corrupt image yields an outcome with ``error`` set; it never raises for one image.
"""
