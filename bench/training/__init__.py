"""Training: what turns a dataset, a method and a recipe into a model and its scores.

The feature-head loop (``trainer``, heads in ``heads``), the ``linear`` mode on features or cached
backbone features (``linear_mode``, ``linear_images``, ``feature_cache``), the ``finetune`` mode of
image backbones end to end (``finetune``, ``images``, ``backbones``, ``checkpoint``, ``distributed``),
and the recipes that configure them (``image_recipe``, ``recipes``).
"""
