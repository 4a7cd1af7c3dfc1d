"""mulcot-bench: reproducible MulCoT-RD distillation and evaluation for multimodal sentiment."""

__version__ = "0.1.0"
