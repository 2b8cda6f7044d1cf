//! Images made acceptable to WeChat: body images (`media/uploadimg`) must be
//! JPEG or PNG and under 1 MB, so GIF and WebP are converted and large
//! images shrunk here, before any upload. What cannot be made to fit is
//! refused with a reason the caller turns into a note ("dropped image …").
//!
//! Everything here is CPU work on untrusted bytes: callers run it on a
//! blocking thread, and decoding is bounded (pixel dimensions, allocation)
//! so a decompression bomb from a unit's site cannot take the process down.

use image::{DynamicImage, ImageFormat, ImageReader, Limits};
use std::io::Cursor;

/// The formats WeChat takes for body images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
}

impl Format {
    /// The file extension the upload's file name must carry.
    pub fn ext(self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
            Format::Png => "png",
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
        }
    }
}

/// An image ready to upload.
#[derive(Clone, PartialEq, Eq)]
pub struct Fitted {
    pub bytes: Vec<u8>,
    pub format: Format,
    /// What was done to it (converted, shrunk), for the editors' notes.
    pub note: Option<String>,
}

impl std::fmt::Debug for Fitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fitted")
            .field("bytes", &self.bytes.len())
            .field("format", &self.format)
            .field("note", &self.note)
            .finish()
    }
}

/// Why an image cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FitError {
    #[error("not an image format that can be converted ({0})")]
    Unsupported(String),
    #[error("cannot be decoded: {0}")]
    Undecodable(String),
    #[error("still {bytes} bytes after shrinking to {width}×{height}")]
    TooLarge {
        bytes: usize,
        width: u32,
        height: u32,
    },
}

/// Larger images are refused before decoding (a 16384² RGBA image is 1 GiB).
const MAX_SIDE: u32 = 12_000;
const MAX_DECODE_ALLOC: u64 = 256 * 1024 * 1024;
/// JPEG quality for converted and shrunk images: good for photos, a
/// fraction of the size of higher settings.
const JPEG_QUALITY: u8 = 85;
/// Shrinking rounds before giving up; each aims below the cap with margin,
/// so one or two normally suffice.
const SHRINK_ROUNDS: u32 = 6;
/// Below this the image says nothing any more; give up instead.
const MIN_SIDE: u32 = 64;

/// `bytes` as a JPEG or PNG of fewer than `max_bytes` bytes.
///
/// JPEG and PNG under the cap are kept as they are (only their header is
/// read, to make sure they are what they claim). GIF (its first frame) and
/// WebP are converted: to PNG when they have transparency or are GIF
/// (drawings, few colours), else to JPEG. Anything still too large is
/// scaled down and encoded as JPEG (transparency flattened onto white, the
/// article's background) until it fits.
pub fn fit_image(bytes: &[u8], max_bytes: usize) -> Result<Fitted, FitError> {
    let format = image::guess_format(bytes).map_err(|_| {
        FitError::Unsupported(if bytes.trim_ascii_start().starts_with(b"<") {
            "an HTML or XML page, not an image".into()
        } else {
            "unknown format".into()
        })
    })?;
    let name = format_name(format);
    if !matches!(
        format,
        ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::Gif | ImageFormat::WebP
    ) {
        return Err(FitError::Unsupported(name.into()));
    }
    if bytes.len() < max_bytes && matches!(format, ImageFormat::Jpeg | ImageFormat::Png) {
        let (w, h) = reader(bytes, format)
            .into_dimensions()
            .map_err(|e| FitError::Undecodable(e.to_string()))?;
        if w.max(h) > MAX_SIDE || w.min(h) == 0 {
            return Err(FitError::Undecodable(format!(
                "{w}×{h} pixels is not a picture for an article"
            )));
        }
        let format = if format == ImageFormat::Png {
            Format::Png
        } else {
            Format::Jpeg
        };
        return Ok(Fitted {
            bytes: bytes.to_vec(),
            format,
            note: None,
        });
    }
    let img = reader(bytes, format)
        .decode()
        .map_err(|e| FitError::Undecodable(e.to_string()))?;
    let (w, h) = (img.width(), img.height());
    let converted = !matches!(format, ImageFormat::Jpeg | ImageFormat::Png);
    let target =
        if img.color().has_alpha() || format == ImageFormat::Gif || format == ImageFormat::Png {
            Format::Png
        } else {
            Format::Jpeg
        };
    let first = if converted {
        Some(encode(&img, target)?)
    } else {
        None
    };
    if let Some(out) = first.filter(|b| b.len() < max_bytes) {
        return Ok(Fitted {
            bytes: out,
            format: target,
            note: Some(format!("{name} 已转换为 {}", target.ext().to_uppercase())),
        });
    }
    // Too large: JPEG from here on, smaller each round.
    let flat = DynamicImage::ImageRgb8(flatten_on_white(&img));
    let mut current = flat.clone();
    let mut size = bytes.len();
    for _ in 0..SHRINK_ROUNDS {
        let out = encode(&current, Format::Jpeg)?;
        if out.len() < max_bytes {
            let how = if current.width() == w {
                format!("已重新压缩为 JPEG（{} → {} 字节）", bytes.len(), out.len())
            } else {
                format!(
                    "已从 {w}×{h}（{} 字节）缩小为 {}×{} 的 JPEG（{} 字节）",
                    bytes.len(),
                    current.width(),
                    current.height(),
                    out.len()
                )
            };
            let note = if converted {
                format!("{name} 已转换格式，{how}")
            } else {
                format!("{name} {how}")
            };
            return Ok(Fitted {
                bytes: out,
                format: Format::Jpeg,
                note: Some(note),
            });
        }
        size = out.len();
        // Bytes scale roughly with the pixel count: aim 20% below the cap.
        let scale = ((max_bytes as f64 * 0.8) / size as f64)
            .sqrt()
            .clamp(0.25, 0.9);
        let nw = ((current.width() as f64) * scale).round() as u32;
        let nh = ((current.height() as f64) * scale).round() as u32;
        if nw.min(nh) < MIN_SIDE {
            break;
        }
        current = flat.resize_exact(nw, nh, image::imageops::FilterType::Triangle);
    }
    Err(FitError::TooLarge {
        bytes: size,
        width: current.width(),
        height: current.height(),
    })
}

fn reader(bytes: &[u8], format: ImageFormat) -> ImageReader<Cursor<&[u8]>> {
    let mut r = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    r.limits(limits);
    r
}

fn encode(img: &DynamicImage, format: Format) -> Result<Vec<u8>, FitError> {
    let mut out = Vec::new();
    let result = match format {
        Format::Png => img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png),
        Format::Jpeg => {
            let rgb = match img {
                DynamicImage::ImageRgb8(_) => img.clone(),
                _ => DynamicImage::ImageRgb8(flatten_on_white(img)),
            };
            let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY);
            rgb.write_with_encoder(enc)
        }
    };
    // Encoding into memory fails only on images the encoder cannot take
    // (zero-sized): for the caller that is an image it cannot use.
    result.map_err(|e| FitError::Undecodable(format!("re-encoding failed: {e}")))?;
    Ok(out)
}

/// Transparent pixels over white, the background of an article.
fn flatten_on_white(img: &DynamicImage) -> image::RgbImage {
    let rgba = img.to_rgba8();
    let mut out = image::RgbImage::new(rgba.width(), rgba.height());
    for (o, p) in out.pixels_mut().zip(rgba.pixels()) {
        let a = u16::from(p[3]);
        for c in 0..3 {
            o[c] = ((u16::from(p[c]) * a + 255 * (255 - a)) / 255) as u8;
        }
    }
    out
}

fn format_name(f: ImageFormat) -> &'static str {
    match f {
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::Png => "PNG",
        ImageFormat::Gif => "GIF",
        ImageFormat::WebP => "WebP",
        ImageFormat::Bmp => "BMP",
        ImageFormat::Tiff => "TIFF",
        ImageFormat::Avif => "AVIF",
        ImageFormat::Ico => "ICO",
        _ => "an unsupported image format",
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A noisy RGB image: compresses badly, like a photo.
    pub(crate) fn noise(w: u32, h: u32, seed: u32) -> DynamicImage {
        let mut x = seed.wrapping_mul(2_654_435_761).max(1);
        let img = image::RgbImage::from_fn(w, h, |_, _| {
            // xorshift: deterministic, no extra dependency.
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            image::Rgb([x as u8, (x >> 8) as u8, (x >> 16) as u8])
        });
        DynamicImage::ImageRgb8(img)
    }

    pub(crate) fn encoded(img: &DynamicImage, f: ImageFormat) -> Vec<u8> {
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), f).unwrap();
        out
    }

    #[test]
    fn small_jpeg_and_png_are_kept_byte_for_byte() {
        let png = encoded(&noise(20, 10, 1), ImageFormat::Png);
        let f = fit_image(&png, 1_000_000).unwrap();
        assert_eq!((f.format, f.note, &f.bytes), (Format::Png, None, &png));
        let jpg = encoded(&noise(20, 10, 2), ImageFormat::Jpeg);
        assert_eq!(fit_image(&jpg, 1_000_000).unwrap().format, Format::Jpeg);
    }

    #[test]
    fn gif_becomes_png_and_says_so() {
        let gif = encoded(&noise(8, 8, 3), ImageFormat::Gif);
        let f = fit_image(&gif, 1_000_000).unwrap();
        assert_eq!(f.format, Format::Png);
        assert!(f.bytes.starts_with(b"\x89PNG"));
        assert!(f.note.unwrap().contains("GIF 已转换为 PNG"));
    }

    #[test]
    fn an_image_over_the_cap_is_shrunk_below_it() {
        let png = encoded(&noise(700, 500, 4), ImageFormat::Png);
        assert!(png.len() > 1_000_000);
        let f = fit_image(&png, 300_000).unwrap();
        assert_eq!(f.format, Format::Jpeg);
        assert!(f.bytes.len() < 300_000, "{}", f.bytes.len());
        assert!(f.note.unwrap().contains("已从 700×500"));
    }

    #[test]
    fn what_cannot_be_decoded_or_is_no_image_is_refused_with_the_reason() {
        assert!(matches!(
            fit_image(b"<html>hot-linking denied</html>", 1_000_000),
            Err(FitError::Unsupported(r)) if r.contains("HTML")
        ));
        let mut png = encoded(&noise(30, 30, 5), ImageFormat::Png);
        png.truncate(40);
        png[16] = 0xff; // an absurd width in the header
        assert!(matches!(
            fit_image(&png, 1_000_000),
            Err(FitError::Undecodable(_))
        ));
        let bmp = encoded(&noise(4, 4, 6), ImageFormat::Png);
        let mut bmp_like = b"BM".to_vec();
        bmp_like.extend_from_slice(&bmp);
        assert!(fit_image(&bmp_like, 1_000_000).is_err());
    }

    #[test]
    fn a_decompression_bomb_is_refused_before_decoding() {
        // A GIF (always decoded) whose header claims 60000×60000 pixels.
        let mut gif = encoded(&noise(1, 1, 7), ImageFormat::Gif);
        gif[6..8].copy_from_slice(&60_000u16.to_le_bytes());
        gif[8..10].copy_from_slice(&60_000u16.to_le_bytes());
        let e = fit_image(&gif, 1_000_000).unwrap_err();
        assert!(matches!(e, FitError::Undecodable(_)), "{e:?}");
        // A small PNG is not decoded, but its header is read.
        let mut png = encoded(&noise(1, 1, 8), ImageFormat::Png);
        png[16..20].copy_from_slice(&20_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&20_000u32.to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(&png[12..29]);
        png[29..33].copy_from_slice(&crc.sum().to_be_bytes());
        let e = fit_image(&png, 1_000_000).unwrap_err();
        assert!(matches!(e, FitError::Undecodable(_)), "{e:?}");
    }
}
