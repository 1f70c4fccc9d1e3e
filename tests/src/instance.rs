//! An effect instance and the actions a host sends it: parameter edits (InstanceChanged), region of
//! definition, clip preferences, time domain, identity, sequence renders and renders — the latter from
//! several threads at once, into buffers the host allocates.

use crate::effect::Effect;
use crate::host::Context;
use crate::image::{Components, Depth, Image, Layout, RenderTarget};
use crate::params::ParamValue;
use crate::props::{PropertySet, Value};
use crate::session::{HostError, Session};
use crate::source::{Feed, SourceClip};
use ofx_sys::*;
use std::collections::BTreeMap;
use std::ffi::{c_void, CStr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// One render call. `Render::frame(t)` renders the whole region of definition at scale 1.
#[derive(Clone, Debug, PartialEq)]
pub struct Render {
    pub time: f64,
    /// Render scale (both axes).
    pub scale: f64,
    /// Render window in pixels; `None`: the region of definition at this scale.
    pub window: Option<OfxRectI>,
    /// Output image bounds when larger than the window; `None`: the window.
    pub bounds: Option<OfxRectI>,
    pub negative_row_bytes: bool,
    pub row_padding: usize,
    pub interactive: bool,
    pub sequential: bool,
}

impl Render {
    pub fn frame(time: f64) -> Self {
        Render {
            time,
            scale: 1.0,
            window: None,
            bounds: None,
            negative_row_bytes: false,
            row_padding: 0,
            interactive: false,
            sequential: false,
        }
    }
}

/// A live instance; dropping it sends DestroyInstance.
pub struct Instance<'s> {
    session: &'s Session,
    effect: Box<Effect>,
    pub context: Context,
    format: Mutex<(Depth, Components)>,
    /// A colour-managed host's output colourspaces for GetOutputColourspace, in order.
    preferred_output: Mutex<Vec<String>>,
    /// What is connected to the Source input.
    source: Mutex<Option<Arc<Feed>>>,
    destroyed: bool,
}

fn rect_values(r: OfxRectD) -> Value {
    Value::Double(vec![r.x1, r.y1, r.x2, r.y2])
}

impl Session {
    /// Creates an instance in a context (describing the context first if needed).
    pub fn create_instance(&self, context: Context) -> Result<Instance<'_>, HostError> {
        self.describe_in_context(context)?;
        let config = self.config();
        let (w, h) = config.project_size;
        let range = config.frame_range;
        let (props, params, clips) = self
            .with_context(context, |d| {
                (d.props.clone(), d.params.instantiate(), d.clip_list())
            })
            .expect("described above");
        props.merge(&PropertySet::with(vec![
            (kOfxPropType, Value::cstrs(&[kOfxTypeImageEffectInstance])),
            (kOfxImageEffectPropContext, Value::cstrs(&[context.name()])),
            (kOfxPropInstanceData, Value::Pointer(vec![0])),
            (kOfxPropIsInteractive, Value::Int(vec![0])),
            (kOfxImageEffectPropProjectSize, Value::Double(vec![w, h])),
            (kOfxImageEffectPropProjectExtent, Value::Double(vec![w, h])),
            (
                kOfxImageEffectPropProjectOffset,
                Value::Double(vec![0.0, 0.0]),
            ),
            (
                kOfxImageEffectPropProjectPixelAspectRatio,
                Value::Double(vec![1.0]),
            ),
            (
                kOfxImageEffectInstancePropEffectDuration,
                Value::Double(vec![range.1 - range.0 + 1.0]),
            ),
            (
                kOfxImageEffectInstancePropSequentialRender,
                Value::Int(vec![0]),
            ),
            (
                kOfxImageEffectPropFrameRate,
                Value::Double(vec![config.frame_rate]),
            ),
            (kOfxImageEffectPropSupportsTiles, Value::Int(vec![1])),
        ]));
        if let Some(style) = self.colour_style() {
            props.set(
                kOfxImageEffectPropColourManagementStyle,
                Value::cstrs(&[style]),
            );
            props.set(
                kOfxImageEffectPropColourManagementConfig,
                Value::cstrs(&[kOfxConfigIdentifier]),
            );
        }
        let effect = Effect::new(props, params);
        let output = kOfxImageEffectOutputClipName.to_string_lossy();
        for (name, desc) in clips {
            let is_output = name == output;
            desc.merge(&PropertySet::with(vec![
                (
                    kOfxImageClipPropConnected,
                    Value::Int(vec![is_output as i32]),
                ),
                (
                    kOfxImageEffectPropPixelDepth,
                    Value::cstrs(&[config.depth.name()]),
                ),
                (
                    kOfxImageEffectPropComponents,
                    Value::cstrs(&[config.components.name()]),
                ),
                (
                    kOfxImageClipPropUnmappedPixelDepth,
                    Value::cstrs(&[config.depth.name()]),
                ),
                (
                    kOfxImageClipPropUnmappedComponents,
                    Value::cstrs(&[config.components.name()]),
                ),
                (
                    kOfxImageEffectPropPreMultiplication,
                    Value::cstrs(&[kOfxImagePreMultiplied]),
                ),
                (kOfxImagePropPixelAspectRatio, Value::Double(vec![1.0])),
                (
                    kOfxImageEffectPropFrameRate,
                    Value::Double(vec![config.frame_rate]),
                ),
                (
                    kOfxImageEffectPropUnmappedFrameRate,
                    Value::Double(vec![config.frame_rate]),
                ),
                (
                    kOfxImageEffectPropFrameRange,
                    Value::Double(vec![range.0, range.1]),
                ),
                (
                    kOfxImageEffectPropUnmappedFrameRange,
                    Value::Double(vec![range.0, range.1]),
                ),
                (
                    kOfxImageClipPropFieldOrder,
                    Value::cstrs(&[kOfxImageFieldNone]),
                ),
                (kOfxImageClipPropContinuousSamples, Value::Int(vec![0])),
            ]));
            effect.add_clip(&name, desc);
        }
        let status = self.call(
            kOfxActionCreateInstance,
            effect.handle() as *const c_void,
            None,
            None,
        );
        self.check(kOfxActionCreateInstance, status)?;
        let preferred = config.colour_management.as_ref();
        let instance = Instance {
            session: self,
            effect,
            context,
            format: Mutex::new((config.depth, config.components)),
            preferred_output: Mutex::new(
                preferred.map_or(Vec::new(), |c| c.preferred_output.clone()),
            ),
            source: Mutex::default(),
            destroyed: false,
        };
        instance.negotiate_output_colourspace()?;
        Ok(instance)
    }

    /// The colour management style a colour-managed host chooses for new instances: the strongest one
    /// both it and the plugin offer, provided the plugin lists the native config (else None). `None`
    /// for a host without colour management.
    fn colour_style(&self) -> Option<&'static CStr> {
        const STYLES: [&CStr; 5] = [
            kOfxImageEffectColourManagementNone,
            kOfxImageEffectColourManagementBasic,
            kOfxImageEffectColourManagementCore,
            kOfxImageEffectColourManagementFull,
            kOfxImageEffectColourManagementOCIO,
        ];
        let host = self.config().colour_management.as_ref()?.style;
        let rank = |name: &str| STYLES.iter().position(|s| s.to_bytes() == name.as_bytes());
        let plugin = self.descriptor();
        let configs = plugin.strings(kOfxImageEffectPropColourManagementAvailableConfigs);
        let plugin_rank = plugin
            .string(kOfxImageEffectPropColourManagementStyle, 0)
            .and_then(|s| rank(&s))
            .filter(|_| {
                configs
                    .iter()
                    .any(|c| c.as_bytes() == kOfxConfigIdentifier.to_bytes())
            })
            .unwrap_or(0);
        let host_rank = rank(&host.to_string_lossy()).unwrap_or(0);
        Some(STYLES[plugin_rank.min(host_rank)])
    }
}

impl<'s> Instance<'s> {
    pub fn session(&self) -> &'s Session {
        self.session
    }

    /// The instance's effect properties.
    pub fn props(&self) -> &PropertySet {
        &self.effect.props
    }

    fn call(
        &self,
        action: &CStr,
        in_args: Option<&PropertySet>,
        out_args: Option<&PropertySet>,
    ) -> Result<OfxStatus, HostError> {
        let status = self.session.call(
            action,
            self.effect.handle() as *const c_void,
            in_args,
            out_args,
        );
        self.session.check(action, status)
    }

    pub fn param_names(&self) -> Vec<String> {
        self.effect.params.names()
    }

    pub fn param(&self, name: &str) -> Option<ParamValue> {
        self.effect.params.with(name, |p| p.value())
    }

    /// A copy of a parameter's properties (type, label, options, ranges...).
    pub fn param_props(&self, name: &str) -> Option<PropertySet> {
        self.effect.params.with(name, |p| p.props.clone())
    }

    /// Names of parameters the plugin changed itself (paramSetValue), in order.
    pub fn plugin_edits(&self) -> Vec<String> {
        self.effect.params.plugin_edits()
    }

    fn unknown(&self, name: &str) -> HostError {
        HostError::Usage(format!("the plugin has no parameter {name}"))
    }

    /// Sets a parameter as a user would and sends InstanceChanged.
    pub fn set_param(&self, name: &str, value: impl Into<ParamValue>) -> Result<(), HostError> {
        let value = value.into();
        self.effect
            .params
            .with(name, |p| p.set_value(value))
            .ok_or_else(|| self.unknown(name))?
            .map_err(HostError::Usage)?;
        self.changed(name, kOfxChangeUserEdited)
    }

    /// Sets a parameter as opening a saved project does: the value only, no InstanceChanged.
    pub fn restore_param(&self, name: &str, value: impl Into<ParamValue>) -> Result<(), HostError> {
        let value = value.into();
        self.effect
            .params
            .with(name, |p| p.set_value(value))
            .ok_or_else(|| self.unknown(name))?
            .map_err(HostError::Usage)
    }

    /// Presses a push button: InstanceChanged for it.
    pub fn press(&self, name: &str) -> Result<(), HostError> {
        self.effect
            .params
            .with(name, |_| ())
            .ok_or_else(|| self.unknown(name))?;
        self.changed(name, kOfxChangeUserEdited)
    }

    /// Begin/InstanceChanged/End for a change of `name` at the current time, then — as hosts do —
    /// InstanceChanged (kOfxChangePluginEdited) for each parameter the plugin set meanwhile, a few
    /// rounds deep at most so a plugin answering its own edits cannot loop forever.
    fn changed(&self, name: &str, reason: &CStr) -> Result<(), HostError> {
        const ROUNDS: usize = 4;
        let mut pending = vec![(name.to_owned(), reason)];
        for _ in 0..ROUNDS {
            let seen = self.effect.params.plugin_edits().len();
            for (name, reason) in pending.drain(..) {
                self.send_changed(&name, reason)?;
            }
            let edits = self.effect.params.plugin_edits();
            pending = edits[seen..]
                .iter()
                .map(|n| (n.clone(), kOfxChangePluginEdited))
                .collect();
            if pending.is_empty() {
                break;
            }
        }
        self.negotiate_output_colourspace()
    }

    /// Whether the host chose a colour management style (other than None) for this instance.
    fn colour_managed(&self) -> bool {
        self.effect
            .props
            .string(kOfxImageEffectPropColourManagementStyle, 0)
            .is_some_and(|s| s.as_bytes() != kOfxImageEffectColourManagementNone.to_bytes())
    }

    /// GetOutputColourspace with the preferred list, as a colour-managed host sends it after creating
    /// the instance and after every change; the answer becomes the output clip's colourspace (none when
    /// the plugin does not trap the action). Nothing is sent to instances without colour management.
    fn negotiate_output_colourspace(&self) -> Result<(), HostError> {
        if !self.colour_managed() {
            return Ok(());
        }
        let preferred = self
            .preferred_output
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let in_args = PropertySet::with(vec![(
            kOfxImageClipPropPreferredColourspaces,
            Value::strings(&preferred),
        )]);
        let out = PropertySet::new();
        let status = self.call(
            kOfxImageEffectActionGetOutputColourspace,
            Some(&in_args),
            Some(&out),
        )?;
        let answer = out
            .string(kOfxImageClipPropColourspace, 0)
            .filter(|_| status == kOfxStatOK);
        let output = kOfxImageEffectOutputClipName.to_string_lossy();
        self.effect.with_clip(&output, |clip| match &answer {
            Some(space) => clip
                .props
                .set(kOfxImageClipPropColourspace, Value::strings(&[space])),
            None => clip.props.remove(kOfxImageClipPropColourspace),
        });
        Ok(())
    }

    /// Changes the output colourspaces this (colour-managed) host prefers and asks the plugin again.
    pub fn set_preferred_output_colourspaces(&self, preferred: &[&str]) -> Result<(), HostError> {
        *self
            .preferred_output
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = preferred.iter().map(|s| s.to_string()).collect();
        self.negotiate_output_colourspace()
    }

    /// The output clip's colourspace, as the last GetOutputColourspace set it.
    pub fn output_colourspace(&self) -> Option<String> {
        let output = kOfxImageEffectOutputClipName.to_string_lossy();
        self.effect
            .with_clip(&output, |clip| {
                clip.props.string(kOfxImageClipPropColourspace, 0)
            })
            .flatten()
    }

    fn send_changed(&self, name: &str, reason: &CStr) -> Result<(), HostError> {
        let reason_args = PropertySet::with(vec![(kOfxPropChangeReason, Value::cstrs(&[reason]))]);
        let args = PropertySet::with(vec![
            (kOfxPropType, Value::cstrs(&[kOfxTypeParameter])),
            (kOfxPropName, Value::strings(&[name])),
            (kOfxPropChangeReason, Value::cstrs(&[reason])),
            (kOfxPropTime, Value::Double(vec![self.session.state.time()])),
            (
                kOfxImageEffectPropRenderScale,
                Value::Double(vec![1.0, 1.0]),
            ),
        ]);
        self.call(kOfxActionBeginInstanceChanged, Some(&reason_args), None)?;
        let changed = self.call(kOfxActionInstanceChanged, Some(&args), None);
        self.call(kOfxActionEndInstanceChanged, Some(&reason_args), None)?;
        changed.map(|_| ())
    }

    /// Connects `clip` to the Source input (General context), replacing what was connected.
    pub fn connect_source(&self, clip: SourceClip) -> Result<(), HostError> {
        self.source_feed(Some(Arc::new(Feed::new(clip))))
    }

    /// Leaves the Source input unconnected.
    pub fn disconnect_source(&self) -> Result<(), HostError> {
        self.source_feed(None)
    }

    fn source_feed(&self, feed: Option<Arc<Feed>>) -> Result<(), HostError> {
        *self.source.lock().unwrap_or_else(|e| e.into_inner()) = feed.clone();
        let name = kOfxImageEffectSimpleSourceClipName.to_string_lossy();
        self.effect
            .with_clip(&name, |clip| clip.connect(feed))
            .ok_or_else(|| HostError::Usage("this instance has no Source clip".into()))
    }

    /// The times at which the plugin fetched Source images (since it was connected), in order.
    pub fn source_fetches(&self) -> Vec<f64> {
        self.source
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map_or(Vec::new(), |f| {
                f.fetched.lock().unwrap_or_else(|e| e.into_inner()).clone()
            })
    }

    /// Source images fetched and not yet released.
    pub fn source_images_held(&self) -> usize {
        self.source
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map_or(0, |f| {
                let fetched = f.fetched.lock().unwrap_or_else(|e| e.into_inner()).len();
                fetched - f.released.load(Ordering::SeqCst)
            })
    }

    /// The pixel format of the output clip for the next renders.
    pub fn set_output_format(&self, depth: Depth, components: Components) {
        *self.format.lock().unwrap_or_else(|e| e.into_inner()) = (depth, components);
        let output = kOfxImageEffectOutputClipName.to_string_lossy();
        self.effect.with_clip(&output, |clip| {
            clip.props
                .set(kOfxImageEffectPropPixelDepth, Value::cstrs(&[depth.name()]));
            clip.props.set(
                kOfxImageEffectPropComponents,
                Value::cstrs(&[components.name()]),
            );
        });
    }

    fn project_rect(&self) -> OfxRectD {
        match self.effect.props.doubles(kOfxImageEffectPropProjectExtent)[..] {
            [w, h] => OfxRectD {
                x1: 0.0,
                y1: 0.0,
                x2: w,
                y2: h,
            },
            _ => OfxRectD::default(),
        }
    }

    /// GetRegionOfDefinition (canonical coordinates); the project window when not handled.
    pub fn region_of_definition(&self, time: f64, scale: f64) -> Result<OfxRectD, HostError> {
        let in_args = PropertySet::with(vec![
            (kOfxPropTime, Value::Double(vec![time])),
            (
                kOfxImageEffectPropRenderScale,
                Value::Double(vec![scale, scale]),
            ),
        ]);
        let out = PropertySet::with(vec![(
            kOfxImageEffectPropRegionOfDefinition,
            rect_values(self.project_rect()),
        )]);
        self.call(
            kOfxImageEffectActionGetRegionOfDefinition,
            Some(&in_args),
            Some(&out),
        )?;
        match out.doubles(kOfxImageEffectPropRegionOfDefinition)[..] {
            [x1, y1, x2, y2] => Ok(OfxRectD { x1, y1, x2, y2 }),
            _ => Err(HostError::Usage(
                "the plugin broke kOfxImageEffectPropRegionOfDefinition".into(),
            )),
        }
    }

    /// GetClipPreferences: the out arguments after the plugin set them (host defaults pre-filled).
    pub fn clip_preferences(&self) -> Result<BTreeMap<String, Value>, HostError> {
        let (depth, components) = *self.format.lock().unwrap_or_else(|e| e.into_inner());
        let out = PropertySet::with(vec![
            (
                kOfxImageEffectPropFrameRate,
                Value::Double(vec![self.session.config().frame_rate]),
            ),
            (
                kOfxImageClipPropFieldOrder,
                Value::cstrs(&[kOfxImageFieldNone]),
            ),
            (
                kOfxImageEffectPropPreMultiplication,
                Value::cstrs(&[kOfxImagePreMultiplied]),
            ),
            (kOfxImageClipPropContinuousSamples, Value::Int(vec![0])),
            (kOfxImageEffectFrameVarying, Value::Int(vec![0])),
        ]);
        for (name, _) in self.effect.clip_list() {
            let key = |prefix: &CStr| {
                std::ffi::CString::new(format!("{}{name}", prefix.to_string_lossy()))
                    .expect("no NUL")
            };
            out.set(
                &key(kOfxImageClipPropComponentsPrefix),
                Value::cstrs(&[components.name()]),
            );
            out.set(
                &key(kOfxImageClipPropDepthPrefix),
                Value::cstrs(&[depth.name()]),
            );
            out.set(&key(kOfxImageClipPropPARPrefix), Value::Double(vec![1.0]));
        }
        self.call(kOfxImageEffectActionGetClipPreferences, None, Some(&out))?;
        Ok(out.snapshot())
    }

    /// GetTimeDomain: `Some(range)` when the plugin sets it, `None` when it does not handle it.
    pub fn time_domain(&self) -> Result<Option<(f64, f64)>, HostError> {
        let (first, last) = self.session.config().frame_range;
        let out = PropertySet::with(vec![(
            kOfxImageEffectPropFrameRange,
            Value::Double(vec![first, last]),
        )]);
        if self.call(kOfxImageEffectActionGetTimeDomain, None, Some(&out))? == kOfxStatReplyDefault
        {
            return Ok(None);
        }
        match out.doubles(kOfxImageEffectPropFrameRange)[..] {
            [a, b] => Ok(Some((a, b))),
            _ => Err(HostError::Usage(
                "the plugin broke kOfxImageEffectPropFrameRange".into(),
            )),
        }
    }

    /// GetFramesNeeded at `time`: the frame ranges (pairs) of the Source clip the plugin reads, `None`
    /// when it answers with the default (the frame rendered).
    pub fn frames_needed(&self, time: f64) -> Result<Option<Vec<f64>>, HostError> {
        let name = std::ffi::CString::new(format!(
            "{}{}",
            kOfxImageClipPropFrameRangePrefix.to_string_lossy(),
            kOfxImageEffectSimpleSourceClipName.to_string_lossy()
        ))
        .expect("no NUL");
        let in_args = PropertySet::with(vec![(kOfxPropTime, Value::Double(vec![time]))]);
        let out = PropertySet::with(vec![(&*name, Value::Double(vec![time, time]))]);
        let action = kOfxImageEffectActionGetFramesNeeded;
        if self.call(action, Some(&in_args), Some(&out))? == kOfxStatReplyDefault {
            return Ok(None);
        }
        Ok(Some(out.doubles(&name)))
    }

    /// IsIdentity for a whole frame: `Some((clip, time))` when the plugin says the output is that
    /// clip at that time, `None` when it renders (kOfxStatReplyDefault).
    pub fn is_identity(&self, time: f64, scale: f64) -> Result<Option<(String, f64)>, HostError> {
        let window = self.full_window(time, scale)?;
        let in_args = PropertySet::with(window_args(time, window, scale));
        let out = PropertySet::with(vec![
            (kOfxPropName, Value::strings(&[""])),
            (kOfxPropTime, Value::Double(vec![time])),
        ]);
        if self.call(kOfxImageEffectActionIsIdentity, Some(&in_args), Some(&out))?
            == kOfxStatReplyDefault
        {
            return Ok(None);
        }
        let clip = match out.get(kOfxPropName) {
            Some(Value::String(names)) => names
                .first()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            _ => String::new(),
        };
        let time = out.doubles(kOfxPropTime).first().copied().unwrap_or(time);
        Ok(Some((clip, time)))
    }

    fn sequence_args(&self, range: (f64, f64), scale: f64, interactive: bool) -> PropertySet {
        PropertySet::with(vec![
            (
                kOfxImageEffectPropFrameRange,
                Value::Double(vec![range.0, range.1]),
            ),
            (kOfxImageEffectPropFrameStep, Value::Double(vec![1.0])),
            (kOfxPropIsInteractive, Value::Int(vec![interactive as i32])),
            (
                kOfxImageEffectPropRenderScale,
                Value::Double(vec![scale, scale]),
            ),
            (
                kOfxImageEffectPropSequentialRenderStatus,
                Value::Int(vec![0]),
            ),
            (
                kOfxImageEffectPropInteractiveRenderStatus,
                Value::Int(vec![interactive as i32]),
            ),
        ])
    }

    pub fn begin_sequence_render(
        &self,
        range: (f64, f64),
        scale: f64,
        interactive: bool,
    ) -> Result<(), HostError> {
        self.sequence_action(
            kOfxImageEffectActionBeginSequenceRender,
            range,
            scale,
            interactive,
        )
    }

    pub fn end_sequence_render(
        &self,
        range: (f64, f64),
        scale: f64,
        interactive: bool,
    ) -> Result<(), HostError> {
        self.sequence_action(
            kOfxImageEffectActionEndSequenceRender,
            range,
            scale,
            interactive,
        )
    }

    /// Begin and end sequence render take the same arguments.
    fn sequence_action(
        &self,
        action: &CStr,
        range: (f64, f64),
        scale: f64,
        interactive: bool,
    ) -> Result<(), HostError> {
        self.call(
            action,
            Some(&self.sequence_args(range, scale, interactive)),
            None,
        )
        .map(|_| ())
    }

    /// The render window of a whole frame at `scale`: the region of definition in pixels.
    pub fn full_window(&self, time: f64, scale: f64) -> Result<OfxRectI, HostError> {
        let rod = self.region_of_definition(time, scale)?;
        Ok(OfxRectI {
            x1: (rod.x1 * scale).floor() as i32,
            y1: (rod.y1 * scale).floor() as i32,
            x2: (rod.x2 * scale).ceil() as i32,
            y2: (rod.y2 * scale).ceil() as i32,
        })
    }

    /// Renders one frame on the calling thread and reads the output image back.
    pub fn render(&self, render: &Render) -> Result<Image, HostError> {
        let window = match render.window {
            Some(w) => w,
            None => self.full_window(render.time, render.scale)?,
        };
        let (depth, components) = *self.format.lock().unwrap_or_else(|e| e.into_inner());
        let layout = Layout {
            depth,
            components,
            negative_row_bytes: render.negative_row_bytes,
            row_padding: render.row_padding,
        };
        let target = Arc::new(
            RenderTarget::new(
                render.time,
                render.bounds.unwrap_or(window),
                layout,
                render.scale,
            )
            .map_err(HostError::Usage)?,
        );
        let mut args = window_args(render.time, window, render.scale);
        args.extend([
            (
                kOfxImageEffectPropSequentialRenderStatus,
                Value::Int(vec![render.sequential as i32]),
            ),
            (
                kOfxImageEffectPropInteractiveRenderStatus,
                Value::Int(vec![render.interactive as i32]),
            ),
            (kOfxImageEffectPropRenderQualityDraft, Value::Int(vec![0])),
        ]);
        let args = PropertySet::with(args);
        self.session.state.set_time(render.time);
        self.effect.begin_render(target.clone());
        let status = self.call(kOfxImageEffectActionRender, Some(&args), None);
        self.effect.end_render();
        status.map(|_| target.read())
    }

    /// Renders every request on `threads` threads at once; results in request order.
    pub fn render_all(&self, renders: &[Render], threads: usize) -> Vec<Result<Image, HostError>> {
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<Result<Image, HostError>>>> =
            Mutex::new(vec![None; renders.len()]);
        std::thread::scope(|scope| {
            for _ in 0..threads.clamp(1, renders.len().max(1)) {
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(render) = renders.get(i) else { break };
                    let result = self.render(render);
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(result);
                });
            }
        });
        results
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .into_iter()
            .map(|r| r.expect("every request rendered"))
            .collect()
    }

    /// Begin sequence → frames `first..=last` (each like `template`) on `threads` threads → end.
    pub fn render_sequence(
        &self,
        first: f64,
        last: f64,
        template: &Render,
        threads: usize,
    ) -> Result<Vec<Image>, HostError> {
        let count = (last - first).max(0.0) as usize + 1;
        let renders: Vec<Render> = (0..count)
            .map(|i| Render {
                time: first + i as f64,
                sequential: threads <= 1,
                ..template.clone()
            })
            .collect();
        self.begin_sequence_render((first, last), template.scale, template.interactive)?;
        let results = self.render_all(&renders, threads);
        self.end_sequence_render((first, last), template.scale, template.interactive)?;
        results.into_iter().collect()
    }

    /// Sends DestroyInstance.
    pub fn destroy(mut self) -> Result<(), HostError> {
        self.destroyed = true;
        self.call(kOfxActionDestroyInstance, None, None).map(|_| ())
    }
}

/// The arguments IsIdentity and Render share: which frame, which part of it, at what scale.
fn window_args(time: f64, window: OfxRectI, scale: f64) -> Vec<(&'static CStr, Value)> {
    vec![
        (kOfxPropTime, Value::Double(vec![time])),
        (
            kOfxImageEffectPropFieldToRender,
            Value::cstrs(&[kOfxImageFieldNone]),
        ),
        (
            kOfxImageEffectPropRenderWindow,
            Value::Int(vec![window.x1, window.y1, window.x2, window.y2]),
        ),
        (
            kOfxImageEffectPropRenderScale,
            Value::Double(vec![scale, scale]),
        ),
    ]
}

impl Drop for Instance<'_> {
    fn drop(&mut self) {
        if !self.destroyed {
            let _ = self.call(kOfxActionDestroyInstance, None, None);
        }
    }
}
