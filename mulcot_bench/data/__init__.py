"""Real-dataset plumbing: parsers of the published formats, images, rationales, manifests, fetch and import.

Nothing here imports torch; Pillow is imported only where images are decoded (``verify``).
"""
