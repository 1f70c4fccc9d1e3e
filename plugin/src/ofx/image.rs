//! Clips and images: fetching the output image and writing its rows, honouring bounds, negative row
//! bytes, depth and components as the host describes them.

use std::ffi::{c_void, CStr};
use std::ptr;

use ofx_sys::*;

use super::{check, member, props::PropSet, Error, Result};
use crate::pixels::{pixel_bytes, Components, Depth};

/// Parses `kOfxBitDepth*`.
pub fn depth_from(name: &str) -> Option<Depth> {
    [
        (kOfxBitDepthByte, Depth::Byte),
        (kOfxBitDepthShort, Depth::Short),
        (kOfxBitDepthHalf, Depth::Half),
        (kOfxBitDepthFloat, Depth::Float),
    ]
    .into_iter()
    .find(|(n, _)| n.to_bytes() == name.as_bytes())
    .map(|(_, d)| d)
}

/// Parses `kOfxImageComponent*`.
pub fn components_from(name: &str) -> Option<Components> {
    [
        (kOfxImageComponentRGBA, Components::Rgba),
        (kOfxImageComponentRGB, Components::Rgb),
        (kOfxImageComponentAlpha, Components::Alpha),
    ]
    .into_iter()
    .find(|(n, _)| n.to_bytes() == name.as_bytes())
    .map(|(_, c)| c)
}

/// A clip of an instance.
pub struct Clip {
    handle: OfxImageClipHandle,
    props: PropSet,
    effect: &'static OfxImageEffectSuiteV1,
}

impl Clip {
    pub fn get(
        instance: OfxImageEffectHandle,
        name: &CStr,
        effect: &'static OfxImageEffectSuiteV1,
        property: &'static OfxPropertySuiteV1,
    ) -> Result<Clip> {
        let f = member!(effect, clipGetHandle)?;
        let mut handle = ptr::null_mut();
        let mut props = ptr::null_mut();
        // SAFETY: valid instance handle, out pointers.
        check(
            unsafe { f(instance, name.as_ptr(), &mut handle, &mut props) },
            || format!("clipGetHandle({})", name.to_string_lossy()),
        )?;
        Ok(Clip {
            handle,
            props: PropSet::new(props, property),
            effect,
        })
    }

    pub fn props(&self) -> PropSet {
        self.props
    }

    /// Whether the host has an input connected to this clip (`kOfxImageClipPropConnected`).
    pub fn is_connected(&self) -> bool {
        self.props
            .get_int(kOfxImageClipPropConnected, 0)
            .is_ok_and(|c| c != 0)
    }

    /// The clip's image at `time` (released when dropped).
    pub fn image(&self, time: f64) -> Result<Image> {
        let f = member!(self.effect, clipGetImage)?;
        let mut handle = ptr::null_mut();
        // SAFETY: valid clip handle; NULL region asks for the whole image.
        check(
            unsafe { f(self.handle, time, ptr::null(), &mut handle) },
            || format!("clipGetImage(time {time})"),
        )?;
        if handle.is_null() {
            return Err(Error::failed("the host returned no image"));
        }
        Image::new(PropSet::new(handle, self.props.suite()), self.effect)
    }
}

/// An image lent by the host: pixel memory plus its layout.
pub struct Image {
    props: PropSet,
    effect: &'static OfxImageEffectSuiteV1,
    data: *mut c_void,
    pub bounds: OfxRectI,
    pub row_bytes: isize,
    pub depth: Depth,
    pub components: Components,
    /// Vegas may hand out BGRA images (`kOfxImagePropPixelOrder`).
    pub bgr: bool,
}

impl Image {
    fn new(props: PropSet, effect: &'static OfxImageEffectSuiteV1) -> Result<Image> {
        let image = Image {
            props,
            effect,
            data: ptr::null_mut(),
            bounds: OfxRectI::default(),
            row_bytes: 0,
            depth: Depth::Float,
            components: Components::Rgba,
            bgr: false,
        };
        // From here on a failure still releases the image (Drop).
        image.describe()
    }

    fn describe(mut self) -> Result<Image> {
        let p = self.props;
        self.data = p.get_pointer(kOfxImagePropData)?;
        let [x1, y1, x2, y2] = p.get_ints::<4>(kOfxImagePropBounds)?;
        self.bounds = OfxRectI { x1, y1, x2, y2 };
        self.row_bytes = p.get_int(kOfxImagePropRowBytes, 0)? as isize;
        let depth = p.get_string(kOfxImageEffectPropPixelDepth, 0)?;
        self.depth = depth_from(&depth)
            .ok_or_else(|| Error::failed(format!("unsupported pixel depth {depth}")))?;
        let comps = p.get_string(kOfxImageEffectPropComponents, 0)?;
        self.components = components_from(&comps)
            .ok_or_else(|| Error::failed(format!("unsupported components {comps}")))?;
        self.bgr = p
            .get_string(kOfxImagePropPixelOrder, 0)
            .is_ok_and(|order| order.as_bytes() == kOfxImagePixelOrderBGRA.to_bytes());
        let width = (i64::from(x2) - i64::from(x1)).max(0) as usize;
        if self.data.is_null() && width > 0 && y2 > y1 {
            return Err(Error::failed("the host's image has no pixel data"));
        }
        let needed = width.checked_mul(pixel_bytes(self.depth, self.components));
        if needed.is_none_or(|n| self.row_bytes.unsigned_abs() < n) {
            return Err(Error::failed(format!(
                "row bytes {} are too small for {width} pixels",
                self.row_bytes
            )));
        }
        Ok(self)
    }

    pub fn props(&self) -> PropSet {
        self.props
    }

    /// The bytes of pixels `x_from..x_to` of row `y` (pixel coordinates, bottom row = `bounds.y1`);
    /// `None` outside the bounds.
    pub fn row_mut(&mut self, y: i32, x_from: i32, x_to: i32) -> Option<&mut [u8]> {
        let (offset, len) = self.span(y, x_from, x_to)?;
        // SAFETY: `span` keeps the range inside row y of the host's buffer; `&mut self` makes the
        // slice unique.
        Some(unsafe { std::slice::from_raw_parts_mut(self.data.cast::<u8>().offset(offset), len) })
    }

    /// The bytes of row `y` (pixel coordinates, bottom row = `bounds.y1`), all of its pixels; `None`
    /// outside the bounds.
    pub fn row(&self, y: i32) -> Option<&[u8]> {
        let (offset, len) = self.span(y, self.bounds.x1, self.bounds.x2)?;
        // SAFETY: as in `row_mut`; only read.
        Some(unsafe { std::slice::from_raw_parts(self.data.cast::<u8>().offset(offset), len) })
    }

    /// Byte offset from `data` and length of pixels `x_from..x_to` of row `y`, inside the bounds.
    fn span(&self, y: i32, x_from: i32, x_to: i32) -> Option<(isize, usize)> {
        let b = self.bounds;
        if y < b.y1 || y >= b.y2 || x_from < b.x1 || x_to > b.x2 || x_from >= x_to {
            return None;
        }
        // In isize: the differences of i32 coordinates need 33 bits; the products fit, as the host's
        // buffer (and so every offset inside it) does. The host guarantees `data` points at pixel
        // (x1, y1) and that each row y in the bounds starts `(y - y1) * rowBytes` bytes from it
        // (rowBytes may be negative).
        let px = pixel_bytes(self.depth, self.components) as isize;
        let offset =
            (y as isize - b.y1 as isize) * self.row_bytes + (x_from as isize - b.x1 as isize) * px;
        Some((
            offset,
            (x_to as isize - x_from as isize) as usize * px as usize,
        ))
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        if let Some(release) = self.effect.clipReleaseImage {
            // SAFETY: the handle came from clipGetImage and is released once.
            unsafe { release(self.props.handle()) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_depths_and_components() {
        assert_eq!(depth_from("OfxBitDepthHalf"), Some(Depth::Half));
        assert_eq!(depth_from("OfxBitDepthFloat"), Some(Depth::Float));
        assert_eq!(depth_from("OfxBitDepthNone"), None);
        assert_eq!(
            components_from("OfxImageComponentRGB"),
            Some(Components::Rgb)
        );
        assert_eq!(
            components_from("OfxImageComponentAlpha"),
            Some(Components::Alpha)
        );
        assert_eq!(
            components_from("uk.co.thefoundry.OfxImageComponentMotionVectors"),
            None
        );
    }
}
