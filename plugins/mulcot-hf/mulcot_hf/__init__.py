"""mulcot-hf: pretrained chat vision-language models as MulCoT-RD assistants and students.

``smol-vlm`` (SmolLM2-135M-Instruct with an EfficientNet-Lite0 visual prefix, runs on CPU) and ``qwen2.5-vl``
(Qwen2.5-VL-Instruct from a hub id or a local folder). Both are opt-in: ``run --all`` leaves them out
unless they are named with ``-m``. Nothing heavy is imported here.
"""
