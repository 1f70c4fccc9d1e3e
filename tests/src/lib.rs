//! A headless OpenFX host: loads a plugin bundle with `libloading` and drives it through the C ABI
//! the way an editor does, implementing the host side of the property, image effect, parameter,
//! memory, multithread, message (V1, V2), progress (V1, V2) and timeline suites. Renders come back
//! as [`Image`]s; messages and progress are recorded on the [`Session`].
//!
//! ```no_run
//! use ofx_host::{default_bundle, Context, HostConfig, Render, Session};
//! let session = Session::load(&default_bundle(), HostConfig::default())?;
//! let instance = session.create_instance(Context::Generator)?;
//! instance.set_param("prompt", "a red ball bouncing")?;
//! let frames = instance.render_sequence(0.0, 3.0, &Render::frame(0.0), 2)?;
//! # Ok::<(), ofx_host::HostError>(())
//! ```

mod effect;
mod guard;
mod host;
mod image;
mod instance;
mod memory;
mod messages;
mod params;
mod progress;
mod props;
mod session;
mod source;
mod threads;
mod timeline;
mod variadic;

pub mod png_out;

pub use host::{ColourManagement, Context, HostConfig};
pub use image::{images_not_released, Components, Depth, Image, Samples};
pub use instance::{Instance, Render};
pub use messages::{Message, MessageKind, QuestionReply};
pub use params::ParamValue;
pub use progress::ProgressEvent;
pub use props::{PropertySet, Value};
pub use session::{
    bundle_binary, default_bundle, status_name, ContextDescription, HostError, Session, ARCH_DIR,
};
pub use source::{Frames, SourceClip, SourceFrame};
