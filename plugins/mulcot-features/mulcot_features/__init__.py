"""mulcot-features: frozen pretrained encoders and the logistic-regression baselines built on their features.

``mulcot_features.encoders`` (EfficientNet-Lite0 image features, all-MiniLM-L6-v2 sentence embeddings, both
cached on disk by content) is shared with other plugins; ``mulcot_features.models`` holds the baselines.
"""
