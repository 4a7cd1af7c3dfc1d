"""The embedded ``synthetic`` dataset: tweet-like posts with drawn 32x32 images, generated from a seed.

Every post has one or two targets. Each target gets a text sentiment (an opinion phrase next to it, or a
plain fact); the image gets a global mood (a face whose mouth always shows it, plus a sky cue and a
background palette that usually agree). The label needs both modalities, see :func:`apply_rule`.

Everything is drawn from local ``random.Random`` generators seeded by strings, and images are written
with a fixed (uncompressed) PNG encoder, so the same seed gives byte-identical samples on every machine.
"""

from __future__ import annotations

import random
import struct
import zlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from PIL import Image, ImageChops, ImageDraw

from mulcot_bench.labels import LABELS
from mulcot_bench.rationale import render_chain
from mulcot_bench.types import Sample, Splits

NAME = "synthetic"
SIZE = 32
_SCALE = 4  # images are drawn at 4x and box-reduced, so thin strokes stay visible at 32x32
_MOOD_PROBS = (0.35, 0.30, 0.35)  # positive, neutral, negative; for text sentiment and image mood alike
_TWO_TARGETS = 0.4
_CUE_AGREES = 0.8

TARGETS: tuple[str, ...] = (
    "@novaphone", "#citytrain", "@brewhouse", "#summerfest", "@pixelcam", "#riverside", "@lunabikes",
    "#metroline", "Zenbook X", "Harbor Cafe", "@skyair", "#gamenight", "Redwood FC", "@quickcart",
    "#oldtown", "Nimbus Buds", "@greenmart", "#marathon2024", "Blue Lagoon", "@streamly", "#foodtruck",
    "Orion Watch", "@dailybrew", "#techexpo", "Maple Park", "@fastfiber", "#jazznight", "Comet Scooter",
    "@bookbarn", "#citymuseum", "Atlas Arena", "@snapgram", "#harborrun", "Vertex Tablet", "@pizzaplanet",
    "#springsale", "Northside United", "@cloudnote", "#eastbeach", "Echo Speaker",
)  # fmt: skip

OPINIONS: dict[str, tuple[str, ...]] = {
    "positive": ("brilliant", "amazing", "great", "lovely", "superb", "fantastic", "awesome", "wonderful"),
    "negative": ("terrible", "awful", "slow", "disappointing", "horrible", "useless", "annoying", "dreadful"),
}
_POLAR_FRAMES = (
    "{t} was {w} today",
    "{t} is {w}",
    "{t} looked {w} tonight",
    "honestly {t} felt {w}",
    "the new {t} is {w}",
    "{t} = {w}",
    "what a {w} time at {t}",
)
_FACT_FRAMES = (
    "{t} opens at 9 on monday",
    "{t} posted a schedule update",
    "{t} is in town this week",
    "{t} announced new prices",
    "passed {t} on the way home",
    "{t} starts again tomorrow",
    "{t} has a new logo",
    "{t} was on the news",
)
_PREFIXES = ("", "", "", "ok so ", "just saw this: ", "update: ", "RT ", "lol ")
_SUFFIXES = ("", "", "", " :)", " :/", " lol", " #weekend", " ...", " !!", " #fyi")
_JOINERS = (" but ", " and ", ", ", ". also ", " while ", " ... meanwhile ")

FACES = {"positive": "smiling", "neutral": "flat", "negative": "frowning"}
SKIES = {"positive": "sun", "neutral": "cloud", "negative": "rain"}
PALETTES = {"positive": "warm", "neutral": "grey", "negative": "cool-dark"}
SKY_PHRASES = {"sun": "a sunny sky", "cloud": "a cloudy sky", "rain": "a rainy sky"}
LOOKS = {"positive": "cheerful", "neutral": "plain", "negative": "gloomy"}

_PALETTE_RGB = {
    "warm": ((240, 170, 70), (230, 120, 60), (250, 200, 90)),
    "grey": ((140, 140, 140), (160, 160, 155), (120, 122, 125)),
    "cool-dark": ((25, 35, 80), (20, 60, 90), (40, 30, 85)),
}


@dataclass(frozen=True)
class Attributes:
    """The generating attributes of one target in one post (what ``Sample.meta`` stores)."""

    text_sentiment: str
    opinion: str
    image_mood: str
    face: str
    sky: str
    palette: str

    @property
    def label(self) -> str:
        return apply_rule(self.text_sentiment, self.image_mood)

    @property
    def conflict(self) -> bool:
        return resolution(self.text_sentiment, self.image_mood) == "conflict"

    @classmethod
    def from_meta(cls, meta: Mapping[str, str]) -> Attributes:
        """Read the attributes back from a sample's meta; KeyError when one is missing."""
        return cls(**{name: meta[name] for name in cls.__dataclass_fields__})


def apply_rule(text_sentiment: str, image_mood: str) -> str:
    """The label rule: neutral text defers to the image, neutral image to the text, opposites give neutral."""
    if text_sentiment == "neutral":
        return image_mood
    if image_mood in ("neutral", text_sentiment):
        return text_sentiment
    return "neutral"


def resolution(text_sentiment: str, image_mood: str) -> str:
    """How the two modalities combine: ``agree``, ``text_neutral``, ``image_neutral`` or ``conflict``."""
    if text_sentiment == image_mood:
        return "agree"
    if text_sentiment == "neutral":
        return "text_neutral"
    if image_mood == "neutral":
        return "image_neutral"
    return "conflict"


def text_analysis(target: str, attrs: Attributes) -> str:
    """Reference sentence for what the text says toward the target."""
    if attrs.text_sentiment == "neutral":
        return f"The text states a fact about {target} with no opinion."
    if attrs.opinion:
        return f"The text calls {target} {attrs.opinion}, a {attrs.text_sentiment} opinion."
    return f"The text sounds {attrs.text_sentiment} about {target}."


def image_analysis(attrs: Attributes) -> str:
    """Reference sentence for the face, the sky and the overall look of the image."""
    return f"The image shows a {attrs.face} face and {SKY_PHRASES[attrs.sky]}; it looks {LOOKS[attrs.image_mood]}."


def conflict_resolution(attrs: Attributes) -> str:
    """Reference sentence for how text and image are combined."""
    kind = resolution(attrs.text_sentiment, attrs.image_mood)
    if kind == "agree":
        return f"Text and image agree; both are {attrs.text_sentiment}."
    if kind == "text_neutral":
        return "The text is neutral, so the image decides."
    if kind == "image_neutral":
        return "The image is neutral, so the text decides."
    return "Text and image disagree, so the sentiment is mixed."


def final_conclusion(target: str, label: str) -> str:
    """Reference sentence for the conclusion."""
    return f"The sentiment toward {target} is {label}."


def reference_rationale(target: str, attrs: Attributes) -> str:
    """The canonical five-field chain for one target."""
    label = attrs.label
    return render_chain(
        {
            "Text_analysis": text_analysis(target, attrs),
            "Image_analysis": image_analysis(attrs),
            "Conflict_resolution": conflict_resolution(attrs),
            "Final_conclusion": final_conclusion(target, label),
            "Prediction": label,
        }
    )


def generate(seed: int = 13, train: int = 600, dev: int = 200, test: int = 200) -> Splits:
    """Build the dataset; sizes count samples (targets). Each split has its own seed-derived RNGs."""
    sizes = {"train": train, "dev": dev, "test": test}
    for split, n in sizes.items():
        if n < 0:
            raise ValueError(f"synthetic: {split} size must be >= 0, got {n}")
    built = {split: _split(seed, split, n) for split, n in sizes.items()}
    return Splits(name=NAME, level="aspect", **built)


def _split(seed: int, split: str, size: int) -> list[Sample]:
    samples: list[Sample] = []
    post = 0
    while len(samples) < size:
        samples.extend(post_samples(seed, f"{split}-{post:04d}", size - len(samples)))
        post += 1
    return samples


def post_samples(seed: int, post_id: str, room: int = 2) -> list[Sample]:
    """The samples of one post (``test-0012``) exactly as :func:`generate` makes them with ``seed``, without
    the rest of the split; ``room`` is how many samples the split still had space for (its last post may
    have been cut to one target)."""
    split, _, number = post_id.rpartition("-")
    return _post(random.Random(f"{NAME}:{seed}:{split}:{int(number)}"), post_id, room)


def _mood(rng: random.Random) -> str:
    return rng.choices(LABELS, weights=_MOOD_PROBS)[0]


def _cue(rng: random.Random, table: dict[str, str], mood: str) -> str:
    if rng.random() < _CUE_AGREES:
        return table[mood]
    return rng.choice([value for key, value in table.items() if key != mood])


def _post(rng: random.Random, post_id: str, room: int) -> list[Sample]:
    """One post: its targets' samples (at most ``room`` of them), sharing one image and one text."""
    n_targets = min(room, 2 if rng.random() < _TWO_TARGETS else 1)
    targets = rng.sample(TARGETS, n_targets)
    mood = _mood(rng)
    face, sky, palette = FACES[mood], _cue(rng, SKIES, mood), _cue(rng, PALETTES, mood)
    clauses, attrs = [], []
    for target in targets:
        sentiment = _mood(rng)
        clause, opinion = _clause(rng, target, sentiment)
        clauses.append(clause)
        attrs.append(Attributes(sentiment, opinion, mood, face, sky, palette))
    text = _text(rng, clauses)
    image = draw_image(rng, face, sky, palette)
    return [
        _sample(f"{post_id}-{i + 1}", post_id, text, target, image, a)
        for i, (target, a) in enumerate(zip(targets, attrs, strict=True))
    ]


def _sample(sample_id: str, post_id: str, text: str, target: str, image: bytes, attrs: Attributes) -> Sample:
    meta = {key: str(value) for key, value in asdict(attrs).items()}
    meta.update(conflict="yes" if attrs.conflict else "no", post=post_id)
    return Sample(
        id=sample_id,
        text=text,
        label=attrs.label,
        target=target,
        image=image,
        image_ref=f"{NAME}/{post_id}.png",
        rationale=reference_rationale(target, attrs),
        meta=meta,
    )


def _clause(rng: random.Random, target: str, sentiment: str) -> tuple[str, str]:
    """The phrase about one target and its opinion word ("" for a plain fact)."""
    if sentiment == "neutral":
        return rng.choice(_FACT_FRAMES).format(t=target), ""
    word = rng.choice(OPINIONS[sentiment])
    shown = word.upper() if rng.random() < 0.15 else word
    return rng.choice(_POLAR_FRAMES).format(t=target, w=shown), word


def _text(rng: random.Random, clauses: list[str]) -> str:
    body = rng.choice(_JOINERS).join(clauses)
    text = rng.choice(_PREFIXES) + body + rng.choice(_SUFFIXES)
    return text[0].upper() + text[1:] if rng.random() < 0.5 else text


# ---------------------------------------------------------------------------------------------- images


def draw_image(rng: random.Random, face: str, sky: str, palette: str) -> bytes:
    """A 32x32 RGB PNG: background palette, a sky cue near the top, a face below, light noise."""
    big = SIZE * _SCALE
    background = _jitter(rng, rng.choice(_PALETTE_RGB[palette]), 14)
    img = Image.new("RGB", (big, big), background)
    draw = ImageDraw.Draw(img)
    _draw_sky(draw, rng, sky)
    _draw_face(draw, rng, face)
    small = img.reduce(_SCALE)
    return encode_png(_add_noise(rng, small, 8))


def _jitter(rng: random.Random, rgb: tuple[int, int, int], amount: int) -> tuple[int, int, int]:
    r, g, b = (min(255, max(0, c + rng.randint(-amount, amount))) for c in rgb)
    return r, g, b


def _draw_sky(draw: ImageDraw.ImageDraw, rng: random.Random, sky: str) -> None:
    cx, cy = rng.randint(22, 106), rng.randint(16, 24)
    if sky == "sun":
        r = rng.randint(11, 14)
        for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, -1), (1, -1), (-1, 1)):
            draw.line((cx + dx * (r + 3), cy + dy * (r + 3), cx + dx * (r + 9), cy + dy * (r + 9)), (255, 210, 40), 4)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=_jitter(rng, (255, 222, 40), 10))
        return
    colour = _jitter(rng, (230, 232, 238) if sky == "cloud" else (95, 100, 112), 10)
    for ox, oy, rx, ry in ((-14, 2, 12, 9), (0, -3, 14, 11), (14, 2, 12, 9)):
        draw.ellipse((cx + ox - rx, cy + oy - ry, cx + ox + rx, cy + oy + ry), fill=colour)
    if sky == "rain":
        for ox in (-16, -6, 4, 14):
            top = cy + 12 + rng.randint(0, 4)
            draw.line((cx + ox, top, cx + ox - 4, top + 14), fill=(70, 130, 240), width=4)


def _draw_face(draw: ImageDraw.ImageDraw, rng: random.Random, face: str) -> None:
    cx, cy, r = rng.randint(40, 88), rng.randint(78, 90), rng.randint(30, 34)
    ink = (35, 25, 20)
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=_jitter(rng, (250, 212, 70), 12), outline=ink, width=4)
    for ex in (cx - 11, cx + 11):
        draw.ellipse((ex - 4, cy - 14, ex + 4, cy - 5), fill=ink)
    if face == "smiling":
        draw.arc((cx - 16, cy - 10, cx + 16, cy + 18), 20, 160, fill=ink, width=6)
    elif face == "frowning":
        draw.arc((cx - 16, cy + 8, cx + 16, cy + 32), 200, 340, fill=ink, width=6)
    else:
        draw.line((cx - 13, cy + 13, cx + 13, cy + 13), fill=ink, width=6)


def _add_noise(rng: random.Random, img: Image.Image, amount: int) -> Image.Image:
    """Add uniform noise in [-amount, amount] to every channel, from the seeded RNG."""
    span = 2 * amount + 1
    table = bytes(i % span for i in range(256))
    raw = rng.randbytes(img.width * img.height * 3).translate(table)
    noise = Image.frombytes("RGB", img.size, raw)
    return ImageChops.add(img, noise, offset=-amount)


def encode_png(img: Image.Image) -> bytes:
    """RGB PNG with stored (uncompressed) deflate blocks: the bytes depend only on the pixels."""
    width, height = img.size
    pixels = img.convert("RGB").tobytes()
    stride = width * 3
    raw = b"".join(b"\x00" + pixels[y * stride : (y + 1) * stride] for y in range(height))
    blocks = [raw[i : i + 65535] for i in range(0, len(raw), 65535)] or [b""]
    body = b"".join(
        struct.pack("<BHH", int(i == len(blocks) - 1), len(b), 0xFFFF ^ len(b)) + b for i, b in enumerate(blocks)
    )
    idat = b"\x78\x01" + body + struct.pack(">I", zlib.adler32(raw))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
