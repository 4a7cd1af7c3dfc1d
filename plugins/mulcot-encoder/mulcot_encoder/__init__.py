"""mulcot-encoder: an assistant / KD student / no-KD student family on frozen pretrained encoders.

Only a small fusion transformer, a label head and a GRU chain decoder train; the all-MiniLM-L6-v2 token states
and the EfficientNet-Lite0 grids are computed once and cached by content (see :mod:`mulcot_encoder.tokens`).
"""
