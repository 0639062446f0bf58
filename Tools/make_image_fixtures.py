#!/usr/bin/env python3
"""Writes the image fixtures of Tests/GraphIOTests/Fixtures/images (run from the repo root):

  png/*.png               every PNG colour type and bit depth, written by a plain encoder below
  png_expected.safetensors  U8 [h, w, 3] per file: the RGB after compositing alpha onto white,
                            (c*a + 255*(255-a) + 127) // 255 in 8 bits; 16-bit samples keep the high byte
                            (16-bit alpha: (round(c*a/65535) + 65535 - a) >> 8, libpng premultiplies)
  photo.png, photo.jpg     a 61x47 synthetic photo-like image (gradients, edges, noise), JPEG by PIL q=90
  pil_expected.safetensors values from PIL + the BlipImageProcessor recipe:
      <file>.decoded U8 [h,w,3]       PIL's decode (Image.open(...).convert("RGB"))
      <file>.resized<N> U8 [N,N,3]     PIL resize((N, N), BICUBIC)
      <file>.pixels<N> F32 [3,N,N]     resized, *1/255 (float64 then float32), (x-mean)/std with CLIP mean/std
      photo.png.box U8 [16,16,3]       resize((16,16), BICUBIC, box=(5,3,40,30))
  bad/*                     zero-size and huge-dimension PNG/JPEG headers

Needs: pip install pillow numpy safetensors (venv outside the repo).
"""
import io, os, struct, zlib
import numpy as np
from PIL import Image
from safetensors.numpy import save_file

OUT = "Tests/GraphIOTests/Fixtures/images"
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)


def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)


def png_bytes(w, h, depth, ctype, rows, plte=None, trns=None):
    ihdr = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0)
    raw = b"".join(b"\x00" + r for r in rows)
    body = chunk(b"IHDR", ihdr)
    if plte is not None:
        body += chunk(b"PLTE", plte)
    if trns is not None:
        body += chunk(b"tRNS", trns)
    return b"\x89PNG\r\n\x1a\n" + body + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def pack_bits(vals, depth):
    """Packs one row of small integers MSB first."""
    per = 8 // depth
    out = bytearray()
    for i in range(0, len(vals), per):
        b = 0
        for j in range(per):
            v = vals[i + j] if i + j < len(vals) else 0
            b |= v << (8 - depth * (j + 1))
        out.append(b)
    return bytes(out)


def composite8(rgb, a):
    rgb = rgb.astype(np.int64)
    a = a.astype(np.int64)[..., None]
    return ((rgb * a + 255 * (255 - a) + 127) // 255).astype(np.uint8)


def main():
    rng = np.random.default_rng(7)
    os.makedirs(f"{OUT}/png", exist_ok=True)
    os.makedirs(f"{OUT}/bad", exist_ok=True)
    W, H = 13, 7
    expected = {}

    def emit(name, data, exp):
        with open(f"{OUT}/png/{name}.png", "wb") as f:
            f.write(data)
        expected[name] = np.ascontiguousarray(exp.astype(np.uint8))

    for depth in (1, 2, 4, 8):
        g = rng.integers(0, 2 ** depth, (H, W))
        rows = [pack_bits(list(r), depth) if depth < 8 else bytes(r.astype(np.uint8)) for r in g]
        v = (g * (255 // (2 ** depth - 1))).astype(np.uint8)
        emit(f"gray{depth}", png_bytes(W, H, depth, 0, rows), np.stack([v] * 3, -1))
    g16 = rng.integers(0, 65536, (H, W))
    emit("gray16", png_bytes(W, H, 16, 0, [r.astype(">u2").tobytes() for r in g16]), np.stack([g16 >> 8] * 3, -1))
    rgb = rng.integers(0, 256, (H, W, 3))
    emit("rgb8", png_bytes(W, H, 8, 2, [r.astype(np.uint8).tobytes() for r in rgb]), rgb)
    rgb16 = rng.integers(0, 65536, (H, W, 3))
    emit("rgb16", png_bytes(W, H, 16, 2, [r.astype(">u2").tobytes() for r in rgb16]), rgb16 >> 8)
    a = rng.integers(0, 256, (H, W))
    a[0, :4] = [0, 255, 1, 128]
    rgba = np.concatenate([rgb, a[..., None]], -1)
    emit("rgba8", png_bytes(W, H, 8, 6, [r.astype(np.uint8).tobytes() for r in rgba]), composite8(rgb, a))
    ga = np.stack([g16 >> 8, a], -1)
    emit("graya8", png_bytes(W, H, 8, 4, [r.astype(np.uint8).tobytes() for r in ga]),
         composite8(np.stack([g16 >> 8] * 3, -1), a))
    a16 = rng.integers(0, 65536, (H, W))
    a16[0, :3] = [0, 65535, 32768]
    rgba16 = np.concatenate([rgb16, a16[..., None]], -1)
    pm = np.floor(rgb16 * a16[..., None] / 65535 + 0.5).astype(np.int64)
    emit("rgba16", png_bytes(W, H, 16, 6, [r.astype(">u2").tobytes() for r in rgba16]), (pm + 65535 - a16[..., None]) >> 8)
    for depth in (1, 2, 4, 8):
        n = 2 ** depth
        pal = rng.integers(0, 256, (n, 3))
        idx = rng.integers(0, n, (H, W))
        rows = [pack_bits(list(r), depth) if depth < 8 else bytes(r.astype(np.uint8)) for r in idx]
        emit(f"palette{depth}", png_bytes(W, H, depth, 3, rows, plte=pal.astype(np.uint8).tobytes()), pal[idx])
        if depth in (2, 8):
            ta = rng.integers(0, 256, n)
            ta[0] = 0
            emit(f"palette{depth}_trns", png_bytes(W, H, depth, 3, rows, plte=pal.astype(np.uint8).tobytes(),
                                                  trns=ta.astype(np.uint8).tobytes()), composite8(pal[idx], ta[idx]))
    save_file(expected, f"{OUT}/png_expected.safetensors")

    # A photo-like test image: smooth gradients, a sharp disc, noise.
    h, w = 47, 61
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx / w * 200 + 20, yy / h * 180 + 40, (xx + yy) / (w + h) * 120 + 60], -1)
    img[(xx - 30) ** 2 + (yy - 20) ** 2 < 100] = [250, 30, 30]
    img[35:40, 5:55] = [10, 10, 10]
    img = np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)
    Image.fromarray(img).save(f"{OUT}/photo.png")
    Image.fromarray(img).save(f"{OUT}/photo.jpg", quality=90)
    pil = {}
    for fname in ("photo.png", "photo.jpg"):
        im = Image.open(f"{OUT}/{fname}").convert("RGB")
        pil[f"{fname}.decoded"] = np.asarray(im)
        for n in (24, 96):
            r = im.resize((n, n), Image.BICUBIC)
            arr = np.asarray(r)
            pil[f"{fname}.resized{n}"] = arr
            x = (arr.astype(np.float64) * (1 / 255)).astype(np.float32)
            pil[f"{fname}.pixels{n}"] = np.ascontiguousarray(((x - MEAN) / STD).transpose(2, 0, 1))
    pil["photo.png.box"] = np.asarray(Image.open(f"{OUT}/photo.png").convert("RGB").resize((16, 16), Image.BICUBIC, box=(5, 3, 40, 30)))
    save_file({k: np.ascontiguousarray(v) for k, v in pil.items()}, f"{OUT}/pil_expected.safetensors")

    # Bad headers.
    def tiny_idat():
        return chunk(b"IDAT", zlib.compress(b"\x00\x00\x00\x00"))
    for name, (bw, bh) in {"zero_width.png": (0, 5), "huge.png": (100000, 100000)}.items():
        with open(f"{OUT}/bad/{name}", "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", bw, bh, 8, 2, 0, 0, 0)) + tiny_idat() + chunk(b"IEND", b""))
    jpg = open(f"{OUT}/photo.jpg", "rb").read()
    sof = jpg.index(b"\xff\xc0")
    for name, (bw, bh) in {"zero_height.jpg": (61, 0), "huge.jpg": (65000, 65000)}.items():
        patched = jpg[:sof + 5] + struct.pack(">HH", bh, bw) + jpg[sof + 9:]
        with open(f"{OUT}/bad/{name}", "wb") as f:
            f.write(patched)
    print("wrote", len(expected), "PNG cases and", len(pil), "PIL values to", OUT)


if __name__ == "__main__":
    main()
