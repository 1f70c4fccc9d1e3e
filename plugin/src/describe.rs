//! Describe and describe-in-context: what the host shows before any instance exists. Cheap by design
//! (model folders are listed, nothing is loaded).

use ofx_sys::*;

use crate::colour_management;
use crate::location;
use crate::ofx::{effect::Effect, param::ParamSet, props::PropSet, OfxStatus, Result};
use crate::params::{definitions, group_of, Def, Kind};

pub fn describe(effect: &Effect) -> Result<OfxStatus> {
    let props = effect.props()?;
    if let Ok(path) = props.get_string(kOfxPluginPropFilePath, 0) {
        location::set_bundle(&path);
    }
    props.set_string(kOfxPropLabel, 0, "Text to Video")?;
    props.set_string(kOfxImageEffectPluginPropGrouping, 0, "AI/Generate")?;
    props.set_strings(
        kOfxImageEffectPropSupportedContexts,
        &[
            kOfxImageEffectContextGenerator,
            kOfxImageEffectContextGeneral,
        ],
    )?;
    let mut depths = vec![kOfxBitDepthFloat, kOfxBitDepthShort, kOfxBitDepthByte];
    let host_depths = effect
        .suites
        .host()
        .get_strings(kOfxImageEffectPropSupportedPixelDepths);
    if host_depths
        .iter()
        .any(|d| d.as_bytes() == kOfxBitDepthHalf.to_bytes())
    {
        depths.push(kOfxBitDepthHalf);
    }
    props.set_strings(kOfxImageEffectPropSupportedPixelDepths, &depths)?;
    props.set_c_string(
        kOfxImageEffectPluginRenderThreadSafety,
        0,
        kOfxImageEffectRenderFullySafe,
    )?;
    // Optional capabilities: a host that rejects one still gets a usable plugin.
    let optional = [
        props.set_string(
            kOfxPropPluginDescription,
            0,
            "Generates a clip from a text prompt with an ONNX text-to-video model.",
        ),
        props.set_string(kOfxPropVersionLabel, 0, env!("CARGO_PKG_VERSION")),
        props.set_int(kOfxImageEffectPluginPropHostFrameThreading, 0, 0),
        props.set_int(kOfxImageEffectPropSupportsTiles, 0, 0),
        props.set_int(kOfxImageEffectPropSupportsMultiResolution, 0, 1),
        // The Source clip is read at the times the generated frames map onto, not only the one rendered.
        props.set_int(kOfxImageEffectPropTemporalClipAccess, 0, 1),
        props.set_int(kOfxImageEffectPropSupportsMultipleClipDepths, 0, 0),
        props.set_int(kOfxImageEffectPluginPropSingleInstance, 0, 0),
    ];
    log_rejected(&optional);
    colour_management::declare(effect, props);
    location::rescan_models();
    Ok(kOfxStatOK)
}

pub fn describe_in_context(effect: &Effect, in_args: PropSet) -> Result<OfxStatus> {
    let context = in_args.get_string(kOfxImageEffectPropContext, 0)?;
    let output = effect.define_clip(kOfxImageEffectOutputClipName)?;
    output.set_strings(
        kOfxImageEffectPropSupportedComponents,
        &[kOfxImageComponentRGBA, kOfxImageComponentRGB],
    )?;
    log_rejected(&[output.set_int(kOfxImageEffectPropSupportsTiles, 0, 0)]);
    if context.as_bytes() == kOfxImageEffectContextGeneral.to_bytes() {
        // General context needs an input in some hosts; ours is optional, read only when the Source
        // parameters ask for it (video-to-video, a start frame), at other times than the one rendered.
        let source = effect.define_clip(kOfxImageEffectSimpleSourceClipName)?;
        source.set_strings(
            kOfxImageEffectPropSupportedComponents,
            &[
                kOfxImageComponentRGBA,
                kOfxImageComponentRGB,
                kOfxImageComponentAlpha,
            ],
        )?;
        source.set_int(kOfxImageClipPropOptional, 0, 1)?;
        log_rejected(&[source.set_int(kOfxImageEffectPropTemporalClipAccess, 0, 1)]);
    }
    let labels: Vec<String> = location::models().into_iter().map(|m| m.label).collect();
    let params = effect.params()?;
    let defs = definitions(&labels);
    for def in &defs {
        define(&params, def, group_of(&defs, def.name).map(|g| g.name))?;
    }
    Ok(kOfxStatOK)
}

/// Defines `def`, inside the group called `group` when given (defined before it).
fn define(params: &ParamSet, def: &Def, group: Option<&str>) -> Result<()> {
    let kind = match def.kind {
        Kind::Page(_) => kOfxParamTypePage,
        Kind::Group { .. } => kOfxParamTypeGroup,
        Kind::Text { .. } => kOfxParamTypeString,
        Kind::Int { .. } => kOfxParamTypeInteger,
        Kind::Double { .. } => kOfxParamTypeDouble,
        Kind::Bool(_) => kOfxParamTypeBoolean,
        Kind::Choice { .. } => kOfxParamTypeChoice,
        Kind::Button => kOfxParamTypePushButton,
    };
    let p = params.define(kind, def.name)?;
    p.set_string(kOfxPropLabel, 0, def.label)?;
    let mut optional = vec![];
    if !def.hint.is_empty() {
        optional.push(p.set_string(kOfxParamPropHint, 0, def.hint));
    }
    if !matches!(def.kind, Kind::Page(_) | Kind::Group { .. }) {
        optional.push(p.set_string(kOfxParamPropScriptName, 0, def.name));
        optional.push(p.set_int(
            kOfxParamPropEvaluateOnChange,
            0,
            def.evaluate_on_change as i32,
        ));
    }
    if def.secret {
        optional.push(p.set_int(kOfxParamPropSecret, 0, 1));
    }
    if let Some(group) = group {
        optional.push(p.set_string(kOfxParamPropParent, 0, group));
    }
    if !matches!(def.kind, Kind::Page(_) | Kind::Group { .. } | Kind::Button) {
        // Nothing here makes sense animated (Resolve animates booleans unless told otherwise).
        optional.push(p.set_int(kOfxParamPropAnimates, 0, 0));
    }
    log_rejected(&optional);
    match &def.kind {
        Kind::Page(children) => {
            for (i, child) in children.iter().enumerate() {
                p.set_string(kOfxParamPropPageChild, i as i32, child)?;
            }
        }
        Kind::Group { open, .. } => {
            log_rejected(&[p.set_int(kOfxParamPropGroupOpen, 0, *open as i32)])
        }
        Kind::Text {
            multi_line,
            directory,
            read_only,
        } => {
            let mode = match (multi_line, directory, read_only) {
                (_, _, true) => kOfxParamStringIsLabel,
                (_, true, _) => kOfxParamStringIsDirectoryPath,
                (true, _, _) => kOfxParamStringIsMultiLine,
                _ => kOfxParamStringIsSingleLine,
            };
            p.set_c_string(kOfxParamPropStringMode, 0, mode)?;
            p.set_string(kOfxParamPropDefault, 0, "")?;
            if *read_only {
                log_rejected(&[p.set_int(kOfxParamPropPersistant, 0, 0)]);
            }
        }
        Kind::Int {
            default,
            range,
            display,
        } => {
            p.set_int(kOfxParamPropDefault, 0, *default)?;
            p.set_int(kOfxParamPropMin, 0, range.0)?;
            p.set_int(kOfxParamPropMax, 0, range.1)?;
            p.set_int(kOfxParamPropDisplayMin, 0, display.0)?;
            p.set_int(kOfxParamPropDisplayMax, 0, display.1)?;
        }
        Kind::Double {
            default,
            range,
            display,
        } => {
            p.set_double(kOfxParamPropDefault, 0, *default)?;
            p.set_double(kOfxParamPropMin, 0, range.0)?;
            p.set_double(kOfxParamPropMax, 0, range.1)?;
            p.set_double(kOfxParamPropDisplayMin, 0, display.0)?;
            p.set_double(kOfxParamPropDisplayMax, 0, display.1)?;
            log_rejected(&[
                p.set_double(kOfxParamPropIncrement, 0, 0.1),
                p.set_int(kOfxParamPropDigits, 0, 2),
            ]);
        }
        Kind::Bool(default) => p.set_int(kOfxParamPropDefault, 0, *default as i32)?,
        Kind::Choice { options, default } => {
            for (i, option) in options.iter().enumerate() {
                p.set_string(kOfxParamPropChoiceOption, i as i32, option)?;
            }
            p.set_int(kOfxParamPropDefault, 0, *default)?;
        }
        Kind::Button => {}
    }
    Ok(())
}

/// Logs property sets a host refused where the plugin works without them.
fn log_rejected(results: &[Result<()>]) {
    for e in results.iter().filter_map(|r| r.as_ref().err()) {
        log::debug!("Text to Video: host ignored an optional property: {e}");
    }
}
