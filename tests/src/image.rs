//! Pixels: formats, the output buffers the host allocates for a render (with any row stride,
//! including negative row bytes for bottom-up-in-memory buffers), and the images the host reads
//! back from them.

use crate::props::{PropertySet, Value};
use ofx_sys::*;
use std::collections::HashMap;
use std::ffi::CStr;
use std::sync::Mutex;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    Byte,
    Short,
    Half,
    Float,
}

impl Depth {
    pub fn name(self) -> &'static CStr {
        match self {
            Depth::Byte => kOfxBitDepthByte,
            Depth::Short => kOfxBitDepthShort,
            Depth::Half => kOfxBitDepthHalf,
            Depth::Float => kOfxBitDepthFloat,
        }
    }

    pub fn bytes(self) -> usize {
        match self {
            Depth::Byte => 1,
            Depth::Short | Depth::Half => 2,
            Depth::Float => 4,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Components {
    Rgba,
    Rgb,
    Alpha,
}

impl Components {
    pub fn name(self) -> &'static CStr {
        match self {
            Components::Rgba => kOfxImageComponentRGBA,
            Components::Rgb => kOfxImageComponentRGB,
            Components::Alpha => kOfxImageComponentAlpha,
        }
    }

    pub fn channels(self) -> usize {
        match self {
            Components::Rgba => 4,
            Components::Rgb => 3,
            Components::Alpha => 1,
        }
    }
}

/// How the host lays out an output buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub depth: Depth,
    pub components: Components,
    /// Bottom row last in memory: `kOfxImagePropRowBytes` is negative.
    pub negative_row_bytes: bool,
    /// Extra bytes at the end of every row.
    pub row_padding: usize,
}

/// An output buffer for one render call. Filled with 0xFF bytes first (NaN in float and half) so
/// unwritten pixels show.
pub(crate) struct RenderTarget {
    pub time: f64,
    pub bounds: OfxRectI,
    pub layout: Layout,
    pub render_scale: f64,
    row_bytes: isize,
    /// 16-byte aligned storage the plugin writes through `data`.
    storage: Box<[u128]>,
    /// Byte offset of pixel (x1, y1) in `storage`.
    origin: usize,
}

// SAFETY: the plugin writes the buffer only during the render call that owns this target; the host
// reads it only after that call returned.
unsafe impl Send for RenderTarget {}
unsafe impl Sync for RenderTarget {}

/// The largest output buffer this host allocates (beyond it a render is refused, as a real host
/// would fail to allocate it, instead of aborting the process).
const MAX_BUFFER_BYTES: usize = 1 << 31;

impl RenderTarget {
    /// The buffer for `bounds`, or why it cannot be allocated (too large, or a row longer than
    /// `kOfxImagePropRowBytes`, an int, can say).
    pub fn new(
        time: f64,
        bounds: OfxRectI,
        layout: Layout,
        render_scale: f64,
    ) -> Result<Self, String> {
        let extent = |from: i32, to: i32| (i64::from(to) - i64::from(from)).max(0) as usize;
        let (width, height) = (extent(bounds.x1, bounds.x2), extent(bounds.y1, bounds.y2));
        let too_large = || {
            format!(
                "an output image of {width}×{height} pixels is too large for this host (at most \
                 {MAX_BUFFER_BYTES} bytes, rows of at most {} bytes)",
                i32::MAX
            )
        };
        let stride = width
            .checked_mul(layout.components.channels() * layout.depth.bytes())
            .and_then(|row| row.checked_add(layout.row_padding))
            .filter(|&row| i32::try_from(row).is_ok())
            .ok_or_else(too_large)?;
        let size = stride
            .checked_mul(height)
            .filter(|&size| size <= MAX_BUFFER_BYTES)
            .ok_or_else(too_large)?;
        let mut storage = Vec::new();
        storage
            .try_reserve_exact(size.div_ceil(16).max(1))
            .map_err(|_| too_large())?;
        storage.resize(size.div_ceil(16).max(1), u128::MAX);
        let storage = storage.into_boxed_slice();
        let (row_bytes, origin) = if layout.negative_row_bytes {
            (-(stride as isize), stride * height.saturating_sub(1))
        } else {
            (stride as isize, 0)
        };
        Ok(RenderTarget {
            time,
            bounds,
            layout,
            render_scale,
            row_bytes,
            storage,
            origin,
        })
    }

    /// The image property set the plugin receives from clipGetImage.
    pub fn image_props(&self, unique: u64) -> PropertySet {
        let b = self.bounds;
        let data = self.storage.as_ptr() as usize + self.origin;
        PropertySet::with(vec![
            (kOfxPropType, Value::cstrs(&[kOfxTypeImage])),
            (
                kOfxImageEffectPropPixelDepth,
                Value::cstrs(&[self.layout.depth.name()]),
            ),
            (
                kOfxImageEffectPropComponents,
                Value::cstrs(&[self.layout.components.name()]),
            ),
            (
                kOfxImageEffectPropPreMultiplication,
                Value::cstrs(&[kOfxImagePreMultiplied]),
            ),
            (
                kOfxImageEffectPropRenderScale,
                Value::Double(vec![self.render_scale; 2]),
            ),
            (kOfxImagePropPixelAspectRatio, Value::Double(vec![1.0])),
            (kOfxImagePropData, Value::Pointer(vec![data])),
            (
                kOfxImagePropBounds,
                Value::Int(vec![b.x1, b.y1, b.x2, b.y2]),
            ),
            (
                kOfxImagePropRegionOfDefinition,
                Value::Int(vec![b.x1, b.y1, b.x2, b.y2]),
            ),
            (
                kOfxImagePropRowBytes,
                Value::Int(vec![self.row_bytes as i32]),
            ),
            (kOfxImagePropField, Value::cstrs(&[kOfxImageFieldNone])),
            (
                kOfxImagePropUniqueIdentifier,
                Value::strings(&[format!("image-{unique}")]),
            ),
        ])
    }

    /// Fills the buffer from `rgba` (4 floats a pixel, top row first) in its layout; `bgra` stores blue
    /// first. Byte and short samples are clamped and rounded.
    pub fn write_rgba(&mut self, rgba: &[f32], bgra: bool) {
        let width = (self.bounds.x2 - self.bounds.x1).max(0) as usize;
        let height = (self.bounds.y2 - self.bounds.y1).max(0) as usize;
        let channels: &[usize] = match (self.layout.components, bgra) {
            (Components::Rgba, false) => &[0, 1, 2, 3],
            (Components::Rgba, true) => &[2, 1, 0, 3],
            (Components::Rgb, false) => &[0, 1, 2],
            (Components::Rgb, true) => &[2, 1, 0],
            (Components::Alpha, _) => &[3],
        };
        let depth = self.layout.depth;
        let size = depth.bytes();
        let (origin, row_bytes) = (self.origin as isize, self.row_bytes);
        // SAFETY: storage is at least stride × height bytes, owned here.
        let bytes = unsafe {
            std::slice::from_raw_parts_mut(
                self.storage.as_mut_ptr() as *mut u8,
                self.storage.len() * 16,
            )
        };
        for top_row in 0..height {
            let start = (origin + (height - 1 - top_row) as isize * row_bytes) as usize;
            let row = &mut bytes[start..start + width * channels.len() * size];
            for (x, px) in row.chunks_exact_mut(channels.len() * size).enumerate() {
                for (slot, &c) in px.chunks_exact_mut(size).zip(channels) {
                    let v = rgba[(top_row * width + x) * 4 + c];
                    match depth {
                        Depth::Byte => slot[0] = (v.clamp(0.0, 1.0) * 255.0).round() as u8,
                        Depth::Short => slot.copy_from_slice(
                            &((v.clamp(0.0, 1.0) * 65535.0).round() as u16).to_ne_bytes(),
                        ),
                        Depth::Half => slot.copy_from_slice(&half::f16::from_f32(v).to_ne_bytes()),
                        Depth::Float => slot.copy_from_slice(&v.to_ne_bytes()),
                    }
                }
            }
        }
    }

    /// Copies the pixels out, top row first, without padding.
    pub fn read(&self) -> Image {
        let width = (self.bounds.x2 - self.bounds.x1).max(0) as usize;
        let height = (self.bounds.y2 - self.bounds.y1).max(0) as usize;
        let row_len = width * self.layout.components.channels() * self.layout.depth.bytes();
        // SAFETY: storage is at least stride × height bytes; no render writes it any more.
        let bytes = unsafe {
            std::slice::from_raw_parts(self.storage.as_ptr() as *const u8, self.storage.len() * 16)
        };
        let mut packed = Vec::with_capacity(row_len * height);
        for top_row in 0..height {
            let y = (height - 1 - top_row) as isize; // rows above the bottom one
            let start = (self.origin as isize + y * self.row_bytes) as usize;
            packed.extend_from_slice(&bytes[start..start + row_len]);
        }
        let samples = match self.layout.depth {
            Depth::Byte => Samples::Byte(packed),
            Depth::Short => Samples::Short(
                packed
                    .chunks_exact(2)
                    .map(|c| u16::from_ne_bytes([c[0], c[1]]))
                    .collect(),
            ),
            Depth::Half => Samples::Half(
                packed
                    .chunks_exact(2)
                    .map(|c| u16::from_ne_bytes([c[0], c[1]]))
                    .collect(),
            ),
            Depth::Float => Samples::Float(
                packed
                    .chunks_exact(4)
                    .map(|c| f32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            ),
        };
        Image {
            bounds: self.bounds,
            components: self.layout.components,
            samples,
        }
    }
}

/// What an image lent to the plugin keeps alive until it is released (a Source image's pixels).
pub(crate) type Owner = Option<Box<dyn Send>>;

/// Image property sets handed to the plugin and not yet released (addresses), with what they own.
static LIVE_IMAGES: Mutex<Option<HashMap<usize, Owner>>> = Mutex::new(None);

/// Hands an image property set to the plugin; it (and `owner`) lives until [`release_image`].
pub(crate) fn lend_image(props: PropertySet, owner: Owner) -> OfxPropertySetHandle {
    let handle = Box::into_raw(Box::new(props));
    LIVE_IMAGES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(HashMap::new)
        .insert(handle as usize, owner);
    handle as OfxPropertySetHandle
}

/// Frees an image handed out by [`lend_image`]; false for anything else.
pub(crate) fn release_image(handle: OfxPropertySetHandle) -> bool {
    let owner = {
        let mut live = LIVE_IMAGES.lock().unwrap_or_else(|e| e.into_inner());
        match live
            .get_or_insert_with(HashMap::new)
            .remove(&(handle as usize))
        {
            Some(owner) => owner,
            None => return false,
        }
    };
    drop(owner);
    // SAFETY: the address came from Box::into_raw in lend_image and was still live.
    drop(unsafe { Box::from_raw(handle as *mut PropertySet) });
    true
}

/// How many images the plugin fetched and has not released (all sessions).
pub fn images_not_released() -> usize {
    LIVE_IMAGES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .map_or(0, |s| s.len())
}

/// Samples of an image, top row first, channels interleaved.
#[derive(Clone, Debug, PartialEq)]
pub enum Samples {
    Byte(Vec<u8>),
    Short(Vec<u16>),
    /// IEEE binary16 bits.
    Half(Vec<u16>),
    Float(Vec<f32>),
}

/// A rendered image as the host read it back.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    /// Pixel bounds (OFX: y up, x2/y2 exclusive).
    pub bounds: OfxRectI,
    pub components: Components,
    pub samples: Samples,
}

impl Image {
    pub fn width(&self) -> usize {
        (self.bounds.x2 - self.bounds.x1).max(0) as usize
    }

    pub fn height(&self) -> usize {
        (self.bounds.y2 - self.bounds.y1).max(0) as usize
    }

    pub fn channels(&self) -> usize {
        self.components.channels()
    }

    /// Sample `channel` of the pixel in column `x`, row `row` counted from the top, as 0..1 (float
    /// samples unclamped).
    pub fn sample(&self, x: usize, row: usize, channel: usize) -> f32 {
        let i = (row * self.width() + x) * self.channels() + channel;
        match &self.samples {
            Samples::Byte(v) => v[i] as f32 / 255.0,
            Samples::Short(v) => v[i] as f32 / 65535.0,
            Samples::Half(v) => half_to_f32(v[i]),
            Samples::Float(v) => v[i],
        }
    }

    /// All samples as f32 (see [`Image::sample`]), top row first.
    pub fn to_f32(&self) -> Vec<f32> {
        let n = self.width() * self.height() * self.channels();
        (0..n)
            .map(|i| {
                let c = self.channels();
                self.sample((i / c) % self.width(), i / c / self.width(), i % c)
            })
            .collect()
    }

    /// 8-bit RGBA, top row first (RGB gets opaque alpha, alpha-only becomes grey).
    pub fn to_rgba8(&self) -> Vec<u8> {
        let quantise = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        let mut out = Vec::with_capacity(self.width() * self.height() * 4);
        for row in 0..self.height() {
            for x in 0..self.width() {
                let s = |c| quantise(self.sample(x, row, c));
                match self.components {
                    Components::Rgba => out.extend([s(0), s(1), s(2), s(3)]),
                    Components::Rgb => out.extend([s(0), s(1), s(2), 255]),
                    Components::Alpha => out.extend([s(0), s(0), s(0), 255]),
                }
            }
        }
        out
    }
}

/// IEEE 754 binary16 to f32.
fn half_to_f32(bits: u16) -> f32 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = ((bits >> 10) & 0x1f) as i32;
    let mantissa = (bits & 0x3ff) as f32;
    sign * match exponent {
        0 => mantissa * 2f32.powi(-24),
        31 if mantissa == 0.0 => f32::INFINITY,
        31 => f32::NAN,
        e => (1.0 + mantissa / 1024.0) * 2f32.powi(e - 15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(target: &RenderTarget, value: impl Fn(i32, i32) -> u8) {
        let props = target.image_props(0);
        let data = props.pointer(kOfxImagePropData, 0).unwrap() as *mut u8;
        let row_bytes = props.int(kOfxImagePropRowBytes, 0).unwrap() as isize;
        let b = target.bounds;
        for y in b.y1..b.y2 {
            for x in b.x1..b.x2 {
                unsafe {
                    *data.offset((y - b.y1) as isize * row_bytes + (x - b.x1) as isize) =
                        value(x, y)
                };
            }
        }
    }

    #[test]
    fn negative_row_bytes_and_padding_read_back_the_same_picture() {
        let bounds = OfxRectI {
            x1: 10,
            y1: 20,
            x2: 13,
            y2: 22,
        };
        let layout = |negative_row_bytes, row_padding| Layout {
            depth: Depth::Byte,
            components: Components::Alpha,
            negative_row_bytes,
            row_padding,
        };
        let images: Vec<Image> = [(false, 0), (true, 0), (true, 5), (false, 3)]
            .into_iter()
            .map(|(neg, pad)| {
                let target = RenderTarget::new(0.0, bounds, layout(neg, pad), 1.0).unwrap();
                fill(&target, |x, y| (x * 10 + y) as u8);
                target.read()
            })
            .collect();
        // top row first: y = 21 then y = 20
        assert_eq!(
            images[0].samples,
            Samples::Byte(vec![121, 131, 141, 120, 130, 140])
        );
        assert!(images.iter().all(|i| *i == images[0]));
    }

    #[test]
    fn unwritten_float_pixels_are_nan_and_halves_decode() {
        let bounds = OfxRectI {
            x1: 0,
            y1: 0,
            x2: 2,
            y2: 1,
        };
        let layout = Layout {
            depth: Depth::Float,
            components: Components::Rgb,
            negative_row_bytes: false,
            row_padding: 0,
        };
        let image = RenderTarget::new(0.0, bounds, layout, 1.0).unwrap().read();
        assert!(image.to_f32().iter().all(|v| v.is_nan()));
        assert_eq!(half_to_f32(0x3c00), 1.0);
        assert_eq!(half_to_f32(0x3800), 0.5);
        assert_eq!(half_to_f32(0xc000), -2.0);
    }
}
