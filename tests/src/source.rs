//! The Source clip of the General context: connected by a test with frames supplied per time, in the
//! pixel layout the test picks (any depth, RGBA/RGB/Alpha, BGRA order, negative row bytes, a render
//! scale). Fetches honour temporal clip access as declared and are counted, as are releases, so a test
//! can assert every fetched image went back.

use crate::image::{Components, Depth, Layout, RenderTarget};
use crate::props::{PropertySet, Value};
use ofx_sys::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// One source frame: RGBA 0..1 (floats kept as they are in float images), top row first.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceFrame {
    pub width: usize,
    pub height: usize,
    pub rgba: Vec<f32>,
}

impl SourceFrame {
    /// A frame of one colour.
    pub fn flat(width: usize, height: usize, rgba: [f32; 4]) -> Self {
        SourceFrame {
            width,
            height,
            rgba: rgba.repeat(width * height),
        }
    }
}

/// The frame a Source clip shows at a time; `None`: it has none there (clipGetImage fails).
pub type Frames = Arc<dyn Fn(f64) -> Option<SourceFrame> + Send + Sync>;

/// What a test connects to the Source input.
#[derive(Clone)]
pub struct SourceClip {
    pub frames: Frames,
    pub depth: Depth,
    pub components: Components,
    /// Vegas's `kOfxImagePixelOrderBGRA`.
    pub bgra: bool,
    pub negative_row_bytes: bool,
    /// `kOfxImageEffectPropRenderScale` on the images (their bounds are the frames' sizes).
    pub render_scale: f64,
}

impl SourceClip {
    /// Float RGBA frames from `frames`, row bytes positive, scale 1.
    pub fn new(frames: impl Fn(f64) -> Option<SourceFrame> + Send + Sync + 'static) -> Self {
        SourceClip {
            frames: Arc::new(frames),
            depth: Depth::Float,
            components: Components::Rgba,
            bgra: false,
            negative_row_bytes: false,
            render_scale: 1.0,
        }
    }
}

/// A connected Source clip and what the plugin did with it.
pub(crate) struct Feed {
    pub clip: SourceClip,
    /// Times of every successful clipGetImage, in order.
    pub fetched: Mutex<Vec<f64>>,
    pub released: Arc<AtomicUsize>,
}

impl Feed {
    pub fn new(clip: SourceClip) -> Self {
        Feed {
            clip,
            fetched: Mutex::default(),
            released: Arc::default(),
        }
    }

    /// The image for `time`: its property values and the buffer they point at (kept alive, and
    /// counted as released when dropped).
    pub fn image(&self, time: f64, unique: u64) -> Option<(PropertySet, Loan)> {
        let frame = (self.clip.frames)(time)?;
        let c = &self.clip;
        let bounds = OfxRectI {
            x1: 0,
            y1: 0,
            x2: frame.width as i32,
            y2: frame.height as i32,
        };
        let layout = Layout {
            depth: c.depth,
            components: c.components,
            negative_row_bytes: c.negative_row_bytes,
            row_padding: 0,
        };
        let mut target = RenderTarget::new(time, bounds, layout, c.render_scale).ok()?;
        target.write_rgba(&frame.rgba, c.bgra);
        let props = target.image_props(unique);
        if c.bgra {
            props.set(
                kOfxImagePropPixelOrder,
                Value::cstrs(&[kOfxImagePixelOrderBGRA]),
            );
        }
        self.fetched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(time);
        Some((
            props,
            Loan {
                _target: target,
                released: self.released.clone(),
            },
        ))
    }
}

/// A lent Source image's pixels; dropping it (at clipReleaseImage) counts the release.
pub(crate) struct Loan {
    _target: RenderTarget,
    released: Arc<AtomicUsize>,
}

impl Drop for Loan {
    fn drop(&mut self) {
        self.released.fetch_add(1, Ordering::SeqCst);
    }
}
